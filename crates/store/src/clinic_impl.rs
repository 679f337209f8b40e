//! The clinic side of the store written once over [`crate::sql`]: what
//! has moved so far of [`crate::ClinicStore`].

use jiff::Timestamp;
use needlewise_core::clinic::{Clinic, Member};
use needlewise_core::ids::{AccountId, ClinicId};

use crate::clinic::TotpSecret;
use crate::sql::{Cols, Tx, aliased, args, qualified};
use crate::store_impl::{WEB_SESSION_COLUMNS, web_session_from};
use crate::{ClinicWebSession, Result, StoreError};

pub(crate) const CLINIC_COLUMNS: &str = "id, name, time_zone, ladder, created_at";

pub(crate) fn clinic_from(r: Cols<'_>) -> Result<Clinic> {
    Ok(Clinic {
        id: ClinicId(r.uuid("id")?),
        name: r.text("name")?,
        time_zone: r.text("time_zone")?,
        ladder: r.decode("ladder")?,
        created_at: r.ts("created_at")?,
    })
}

pub(crate) const MEMBER_COLUMNS: &str = "clinic_id, account_id, role, display_name, joined_at";

pub(crate) fn member_from(r: Cols<'_>) -> Result<Member> {
    Ok(Member {
        clinic_id: ClinicId(r.uuid("clinic_id")?),
        account_id: AccountId(r.uuid("account_id")?),
        role: r.parse("role", "role")?,
        display_name: r.text("display_name")?,
        joined_at: r.ts("joined_at")?,
    })
}

pub(crate) const TOTP_COLUMNS: &str = "account_id, secret, enabled_at, last_step, pending_session";

pub(crate) fn totp_from(r: Cols<'_>) -> Result<TotpSecret> {
    Ok(TotpSecret {
        account_id: AccountId(r.uuid("account_id")?),
        secret: hex_decode(r.str("secret")?)?,
        enabled_at: r.opt_ts("enabled_at")?,
        last_step: r.int("last_step")?,
        pending_session: r.opt_text("pending_session")?,
    })
}

/// The raw secret from its lower-case hex.
pub(crate) fn hex_decode(s: &str) -> Result<Vec<u8>> {
    let bad = || StoreError::invalid("stored TOTP secret is not hex");
    if s.len() % 2 != 0 {
        return Err(bad());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

/// [`crate::Store::clinic_web_session`] in one statement: the session's
/// row joined with its second factor and its memberships (one row each,
/// or one row with none).
pub(crate) fn clinic_web_session(
    tx: &mut dyn Tx,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<ClinicWebSession>> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {}, {}, {}, {}
             FROM web_sessions w
             LEFT JOIN totp_secrets t ON t.account_id = w.account_id
             LEFT JOIN clinic_members m ON m.account_id = w.account_id
             LEFT JOIN clinics c ON c.id = m.clinic_id
             WHERE w.token_hash = ?1 AND w.expires_at > ?2
             ORDER BY m.joined_at, m.clinic_id",
            qualified(WEB_SESSION_COLUMNS, "w"),
            aliased(TOTP_COLUMNS, "t", "t_"),
            aliased(CLINIC_COLUMNS, "c", "c_"),
            aliased(MEMBER_COLUMNS, "m", "m_"),
        )
    });
    let rows = tx.query(&SQL, args![token_hash, now])?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let totp = first.prefixed("t_");
    let totp = if totp.is_null("account_id")? {
        None
    } else {
        Some(totp_from(totp)?)
    };
    let mut memberships = Vec::new();
    for row in &rows {
        if !row.prefixed("c_").is_null("id")? {
            memberships.push((
                clinic_from(row.prefixed("c_"))?,
                member_from(row.prefixed("m_"))?,
            ));
        }
    }
    Ok(Some(ClinicWebSession {
        session: web_session_from(first.cols())?,
        memberships,
        totp,
    }))
}
