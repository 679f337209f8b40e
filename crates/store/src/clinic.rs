//! The clinic side of the store: clinics and their members, invites and
//! consent, what clinicians may read and do, notifications, the email
//! outbox, the escalation ledger, second factors and shared rate limits.
//!
//! Authorization lives here, not in handlers. Every read or change of a
//! patient's data by a clinic takes a [`ClinicAccess`] (who asks, for
//! which clinic) and, in one transaction: checks that the asker is a
//! member, that the patient is the clinic's patient and has granted the
//! scope ([`needlewise_core::clinic::permits`]), reads or writes, and
//! appends a line to the patient's audit log. A request the rule refuses
//! reads as "not found" (the asker learns nothing about patients who are
//! not theirs) or, for a member whose role may not do it, as
//! [`crate::StoreError::Forbidden`]. Tenant ids lead every clinic table's
//! primary key.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};
use needlewise_core::clinic::{
    Clinic, Ladder, Member, Override, PatientStatus, Protocol, Role, Scope,
};
use needlewise_core::ids::{
    AccountId, AuditId, ClinicId, EmailId, EpisodeId, NotificationId, OverrideId, PhotoId,
    ProfileId,
};
use needlewise_core::progress::Photo;
use needlewise_core::records::{CheckinRecord, Episode, Profile, ScreeningRecord, SessionRecord};

use crate::{Result, WebSession};

/// Who asks, for which clinic. The store looks up the asker's role itself:
/// a caller cannot claim one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClinicAccess {
    pub clinic: ClinicId,
    pub account: AccountId,
}

/// A single-use invitation to join a clinic as a patient. The code is
/// shown once; only its SHA-256 hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub clinic_id: ClinicId,
    /// Lower-case hex SHA-256 of the code.
    pub code_hash: String,
    /// A note for the clinic, such as the patient's name.
    pub label: String,
    pub created_by: AccountId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Set when a patient has used it.
    pub used_by: Option<ProfileId>,
    pub used_at: Option<Timestamp>,
}

/// A single-use invitation to join a clinic's team, made by a clinician
/// for an email address. Only the account with that email may accept it;
/// accepting makes it a member with this role and display name. The code
/// is shown once; only its SHA-256 hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInvite {
    pub clinic_id: ClinicId,
    /// Lower-case hex SHA-256 of the code.
    pub code_hash: String,
    /// The invited address, lower-case.
    pub email: String,
    pub role: Role,
    /// How patients and colleagues will see the new member.
    pub display_name: String,
    pub created_by: AccountId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Set when it has been accepted.
    pub used_by: Option<AccountId>,
    pub used_at: Option<Timestamp>,
}

impl Invite {
    /// What both backends check before storing one for `by` (besides the
    /// clinic: each backend's own same-clinic check names it).
    pub(crate) fn check(&self, by: &ClinicAccess) -> Result<()> {
        use crate::StoreError;
        if !crate::codec::is_sha256_hex(&self.code_hash) {
            return Err(StoreError::invalid(
                "an invite's code hash must be 64 lower-case hex digits",
            ));
        }
        if self.expires_at <= self.created_at {
            return Err(StoreError::invalid(
                "an invite must expire after it is made",
            ));
        }
        if self.created_by != by.account {
            return Err(StoreError::invalid(
                "an invite is made by the member who asks",
            ));
        }
        Ok(())
    }
}

impl MemberInvite {
    /// Not accepted yet and not expired at `now`.
    pub fn usable(&self, now: Timestamp) -> bool {
        self.used_at.is_none() && now < self.expires_at
    }

    /// What both backends check before storing one for `by`.
    pub(crate) fn check(&self, by: &ClinicAccess) -> Result<()> {
        use crate::StoreError;
        if self.clinic_id != by.clinic {
            return Err(StoreError::invalid(format!(
                "the invitation names clinic {}, not clinic {}",
                self.clinic_id, by.clinic
            )));
        }
        if !crate::codec::is_sha256_hex(&self.code_hash) {
            return Err(StoreError::invalid(
                "an invitation's code hash must be 64 lower-case hex digits",
            ));
        }
        if self.expires_at <= self.created_at {
            return Err(StoreError::invalid(
                "an invitation must expire after it is made",
            ));
        }
        if self.created_by != by.account {
            return Err(StoreError::invalid(
                "an invitation is made by the member who asks",
            ));
        }
        let email = self.email.trim();
        if email.is_empty() || !email.contains('@') || email != self.email.to_lowercase() {
            return Err(StoreError::invalid(
                "an invitation's email must be a lower-case address",
            ));
        }
        if self.display_name.trim().is_empty() {
            return Err(StoreError::invalid("give the member a display name"));
        }
        if self.used_by.is_some() || self.used_at.is_some() {
            return Err(StoreError::invalid("a new invitation is not used yet"));
        }
        Ok(())
    }
}

/// A clinic a patient has joined, as the patient sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientLink {
    pub clinic: Clinic,
    pub joined_at: Timestamp,
    pub scopes: BTreeSet<Scope>,
}

/// A patient on a clinician's list.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientSummary {
    pub profile_id: ProfileId,
    pub name: String,
    pub joined_at: Timestamp,
    pub scopes: BTreeSet<Scope>,
    /// Empty (all `None`) for staff and for scopes not granted.
    pub status: PatientStatus,
}

/// Which patients a clinic's list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PatientFilter {
    #[default]
    All,
    /// Patients with an open red flag the clinic may see (check-ins
    /// shared).
    RedFlags,
    /// Patients with a scheduled check-in that was not done (sessions and
    /// check-ins shared).
    OverdueCheckins,
}

impl PatientFilter {
    pub const ALL: [PatientFilter; 3] = [
        PatientFilter::All,
        PatientFilter::RedFlags,
        PatientFilter::OverdueCheckins,
    ];

    pub fn id(self) -> &'static str {
        match self {
            PatientFilter::All => "all",
            PatientFilter::RedFlags => "red_flags",
            PatientFilter::OverdueCheckins => "overdue_checkins",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.id() == id)
    }
}

/// Where a page of the patient list starts: after this patient, in the
/// list's order (the name with ASCII letters lowered, byte by byte, then
/// the profile id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientCursor {
    pub name_key: String,
    pub profile_id: ProfileId,
}

impl PatientCursor {
    /// The longest cursor [`PatientCursor::parse`] takes.
    pub const MAX_LEN: usize = 2048;

    /// The sort key of a name: ASCII letters lowered, as both backends
    /// lower them.
    pub fn key(name: &str) -> String {
        name.to_ascii_lowercase()
    }

    pub fn after(p: &PatientSummary) -> Self {
        PatientCursor {
            name_key: Self::key(&p.name),
            profile_id: p.profile_id,
        }
    }

    /// The text form for a link: the profile id, then the name key.
    pub fn encode(&self) -> String {
        format!("{}{}", self.profile_id, self.name_key)
    }

    /// Reads [`PatientCursor::encode`]'s form; `None` if it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() > Self::MAX_LEN {
            return None;
        }
        // `None` too when byte 36 is inside a character.
        let (id, key) = text.split_at_checked(36)?;
        let id = uuid::Uuid::try_parse(id).ok()?;
        Some(PatientCursor {
            name_key: key.to_owned(),
            profile_id: ProfileId(id),
        })
    }
}

/// A request for one page of a clinic's patient list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientQuery {
    /// Part of a name, in any case of its ASCII letters; blank for all.
    pub search: String,
    pub filter: PatientFilter,
    pub after: Option<PatientCursor>,
    /// At most this many patients (1 to [`PatientQuery::MAX_LIMIT`]).
    pub limit: u32,
}

impl PatientQuery {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 200;
    /// The longest search text.
    pub const MAX_SEARCH: usize = 100;

    /// The first page of every patient.
    pub fn first_page() -> Self {
        PatientQuery {
            search: String::new(),
            filter: PatientFilter::All,
            after: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

/// One page of a clinic's patient list, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientPage {
    pub patients: Vec<PatientSummary>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<PatientCursor>,
    /// How many of the clinic's patients have an open red flag the clinic
    /// may see, whatever the page shows (clinicians only).
    pub red_flag_patients: Option<u32>,
}

/// A clinician's acknowledgement of a red flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    pub by: AccountId,
    pub by_name: String,
    pub at: Timestamp,
    pub note: String,
}

/// An open red flag in a clinic's queue.
#[derive(Debug, Clone, PartialEq)]
pub struct RedFlag {
    pub profile_id: ProfileId,
    pub patient_name: String,
    pub episode: Episode,
    /// The rules the check-in fired.
    pub rule_ids: Vec<String>,
    /// When this clinic could first see it, as in
    /// [`OpenFlag::visible_since`]: later than the episode's `opened_at`
    /// when the patient joined or shared check-ins after raising it.
    pub visible_since: Timestamp,
    pub acknowledged: Option<Acknowledgement>,
}

/// What a clinic may see of one patient. Each part is `None` where its
/// scope is not granted.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientRecord {
    pub profile: Profile,
    pub joined_at: Timestamp,
    pub scopes: BTreeSet<Scope>,
    pub screening: Option<ScreeningRecord>,
    /// Newest first.
    pub sessions: Option<Vec<SessionRecord>>,
    /// Newest first.
    pub checkins: Option<Vec<CheckinRecord>>,
    /// Newest first, with this clinic's acknowledgement.
    pub episodes: Option<Vec<(Episode, Option<Acknowledgement>)>>,
    /// Oldest first (clinical photos scope).
    pub photos: Option<Vec<Photo>>,
    /// The protocol this clinic prescribed last, if any.
    pub protocol: Option<Protocol>,
    /// This clinic's overrides in force.
    pub overrides: Vec<Override>,
}

/// One step of a red flag's escalation ladder, claimed at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscalationClaim {
    pub clinic: ClinicId,
    pub profile: ProfileId,
    pub episode: EpisodeId,
    pub step: usize,
    pub at: Timestamp,
}

/// An in-app notification for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: NotificationId,
    pub account_id: AccountId,
    pub clinic_id: Option<ClinicId>,
    pub profile_id: Option<ProfileId>,
    /// A stable kind, such as `red_flag` or `escalation`.
    pub kind: String,
    pub title: String,
    pub body: String,
    /// A path inside the app to act on it.
    pub link: String,
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
}

/// One line of a patient's audit log: a clinic member read or changed the
/// patient's data, or the patient changed a consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: AuditId,
    pub profile_id: ProfileId,
    pub clinic_id: ClinicId,
    pub actor: AccountId,
    /// The actor's display name at the time (the patient's own actions
    /// show as "you").
    pub actor_name: String,
    /// A stable action id: `viewed_list`, `viewed_record`, `viewed_photo`,
    /// `acknowledged`, `prescribed`, `override_added`, `override_revoked`,
    /// `joined`, `left`, `consent_granted`, `consent_revoked`.
    pub action: String,
    pub detail: String,
    pub at: Timestamp,
}

/// An email waiting in the outbox or sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub id: EmailId,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// An iCalendar invitation sent beside the body (migration 13).
    pub calendar: Option<CalendarPart>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub attempts: u32,
    pub last_error: String,
}

/// What an invitation asks of the calendar app (RFC 5546's METHOD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarMethod {
    /// Put the event in the calendar (booked, or moved to this time).
    Request,
    /// Take it out (cancelled, or moved away from this time).
    Cancel,
}

impl CalendarMethod {
    /// The METHOD value, as stored and as the `text/calendar` part's
    /// `method` parameter.
    pub fn id(self) -> &'static str {
        match self {
            CalendarMethod::Request => "REQUEST",
            CalendarMethod::Cancel => "CANCEL",
        }
    }
}

impl std::str::FromStr for CalendarMethod {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "REQUEST" => Ok(CalendarMethod::Request),
            "CANCEL" => Ok(CalendarMethod::Cancel),
            other => Err(format!("unknown calendar method {other:?}")),
        }
    }
}

/// An email's calendar part: an iCalendar object written by pure code
/// (`needlewise_web::ics::invitation`), stored as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarPart {
    pub method: CalendarMethod,
    pub text: String,
}

/// How the emails to a clinic's members are going, for its pages: a
/// misconfigured mail server must not fail silently while red flags wait.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailStatus {
    /// Unsent emails still to be tried.
    pub waiting: u32,
    /// When the oldest of them was queued.
    pub oldest_waiting: Option<Timestamp>,
    /// Unsent emails that used up their attempts (given up).
    pub given_up: u32,
    /// The newest error among unsent emails, if any.
    pub last_error: Option<String>,
}

/// A red flag the escalation worker looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenFlag {
    pub clinic: Clinic,
    pub profile_id: ProfileId,
    pub patient_name: String,
    pub episode: Episode,
    /// When this clinic could first see the flag: the later of the
    /// episode's `opened_at` and the moment the patient granted this clinic
    /// the check-ins scope (joining with it counts as granting). A revoked
    /// scope's grant is forgotten, so granting it again starts afresh. The
    /// escalation ladder is timed from here.
    pub visible_since: Timestamp,
    pub acknowledged: bool,
    /// The ladder steps already sent for it.
    pub sent_steps: BTreeSet<usize>,
}

/// A TOTP second factor (RFC 6238).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret {
    pub account_id: AccountId,
    /// The raw shared secret (20 bytes for SHA-1).
    pub secret: Vec<u8>,
    /// `None` while enrolling (shown, not yet confirmed with a code).
    pub enabled_at: Option<Timestamp>,
    /// The last time step a code was accepted for; a code is never
    /// accepted twice.
    pub last_step: i64,
    /// While enrolling: the token hash of the web session the secret was
    /// made for, the only one that may see it again or confirm it. `None`
    /// once enabled (and for secrets pending from before schema 3, which
    /// no session may confirm).
    pub pending_session: Option<String>,
}

impl TotpSecret {
    /// What both backends check before storing a secret for `account`.
    pub(crate) fn check(&self, account: AccountId) -> Result<()> {
        use crate::StoreError;
        if self.account_id != account {
            return Err(StoreError::invalid("the secret is another account's"));
        }
        if self.secret.is_empty() {
            return Err(StoreError::invalid("the TOTP secret is empty"));
        }
        match (&self.enabled_at, &self.pending_session) {
            (Some(_), Some(_)) => Err(StoreError::invalid(
                "an enabled TOTP secret belongs to the account, not to a session",
            )),
            (_, Some(s)) if s.is_empty() => Err(StoreError::invalid(
                "the pending session's token hash is empty",
            )),
            _ => Ok(()),
        }
    }
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpSecret")
            .field("account_id", &self.account_id)
            .field("secret", &"<redacted>")
            .field("enabled_at", &self.enabled_at)
            .field("last_step", &self.last_step)
            .field(
                "pending_session",
                &self.pending_session.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The clinic side of [`crate::Store`].
///
/// Denials: where the asker is not a member of the clinic, or the patient
/// is not the clinic's patient, or the scope is not granted, reads return
/// `None` (or leave the part out) and changes fail with
/// [`crate::StoreError::NotFound`], so nothing tells an outsider that a
/// patient exists. A member whose role may not do the act (staff reading
/// clinical data, acknowledging or prescribing) gets
/// [`crate::StoreError::Forbidden`].
/// A clinician's list views (the patient list, the red-flag queue) are
/// logged once per patient, list and clinician in this window: viewing the
/// same list again within it adds no line. Every other read or change is
/// logged each time.
pub const LIST_VIEW_AUDIT_WINDOW: SignedDuration = SignedDuration::from_mins(15);

pub trait ClinicStore {
    // Clinics and members.
    /// Creates a clinic with its founding member (a clinician). Fails with
    /// `NotFound` if the founder's account does not exist, `Conflict` for a
    /// taken id, `Invalid` for an empty name or a ladder that does not
    /// validate.
    fn create_clinic(&self, clinic: &Clinic, founder: &Member) -> Result<()>;
    fn clinic(&self, id: ClinicId) -> Result<Option<Clinic>>;
    /// The clinics an account is a member of, oldest membership first.
    fn memberships(&self, account: AccountId) -> Result<Vec<(Clinic, Member)>>;
    /// A clinic's members, oldest first; only for members of that clinic
    /// (`NotFound` otherwise).
    fn members(&self, by: &ClinicAccess) -> Result<Vec<Member>>;
    /// Adds a member; only a clinician may (`Forbidden` for staff).
    /// `Conflict` if the account is already a member.
    fn add_member(&self, by: &ClinicAccess, member: &Member) -> Result<()>;
    /// Invites an email address to join the team with a role and display
    /// name; clinicians only (`Forbidden` for staff, `NotFound` for
    /// outsiders). `Invalid` for a bad hash, an expiry not after creation,
    /// a `created_by` other than the asker, an email that is not a
    /// lower-case address, an empty name or a used invitation; `Conflict`
    /// for a taken code. Whether the address has an account plays no part.
    fn create_member_invite(&self, by: &ClinicAccess, invite: &MemberInvite) -> Result<()>;
    /// A team invitation by its code hash, used or not, expired or not,
    /// with its clinic; `None` for an unknown code. For the page where the
    /// invited person accepts: the caller decides what to show.
    fn member_invite(&self, code_hash: &str) -> Result<Option<(Clinic, MemberInvite)>>;
    /// The clinic's team invitations still open at `now` (not accepted, not
    /// expired), oldest first; clinicians only (`Forbidden` for staff,
    /// `NotFound` for outsiders).
    fn member_invites(&self, by: &ClinicAccess, now: Timestamp) -> Result<Vec<MemberInvite>>;
    /// Accepts a team invitation for `account`: in one transaction, checks
    /// that it is unused, unexpired and for the account's email, adds the
    /// member with the invited role and display name (joined at `now`) and
    /// uses the invitation up. `NotFound`, the same whichever it is, for
    /// an unknown, used or expired code or one for another email (or an
    /// account without one); `Conflict` if the account is already a member
    /// (the invitation stays unused).
    fn accept_member_invite(
        &self,
        code_hash: &str,
        account: AccountId,
        now: Timestamp,
    ) -> Result<Member>;
    /// Sets the escalation ladder; clinicians only.
    fn set_ladder(&self, by: &ClinicAccess, ladder: &Ladder) -> Result<()>;

    // Invites and consent: the patient's side.
    /// Any member may invite. `Invalid` for a bad hash, an expiry not
    /// after creation or a `created_by` other than the asker; `Conflict`
    /// for a taken code.
    fn create_invite(&self, by: &ClinicAccess, invite: &Invite) -> Result<()>;
    /// The clinic an unused, unexpired invite is for.
    fn invite_clinic(&self, code_hash: &str, now: Timestamp) -> Result<Option<Clinic>>;
    /// Joins the profile to the invite's clinic with these scopes, uses up
    /// the invite and logs `joined` (and each grant), in one transaction.
    /// `NotFound` for an unknown, used or expired code or an unknown
    /// profile; `Conflict` if the profile is already the clinic's patient.
    fn redeem_invite(
        &self,
        code_hash: &str,
        profile: ProfileId,
        scopes: &BTreeSet<Scope>,
        now: Timestamp,
    ) -> Result<ClinicId>;
    /// The clinics a profile has joined, oldest first, with their scopes.
    fn patient_clinics(&self, profile: ProfileId) -> Result<Vec<PatientLink>>;
    /// Grants or revokes one scope, logged. `NotFound` if the profile is
    /// not the clinic's patient. Granting a held scope or revoking one not
    /// held changes nothing and logs nothing.
    fn set_consent(
        &self,
        profile: ProfileId,
        clinic: ClinicId,
        scope: Scope,
        granted: bool,
        at: Timestamp,
    ) -> Result<()>;
    /// Leaves the clinic: every scope is revoked and the link removed
    /// (its protocol and overrides stop applying), logged `left`.
    fn leave_clinic(&self, profile: ProfileId, clinic: ClinicId, at: Timestamp) -> Result<()>;

    // What a clinic sees and does. Each call is logged in the audit log of
    // every patient whose data it read or changed.
    /// One page of the clinic's patients, by name (ASCII letters lowered,
    /// then byte order, then profile id), with the status each one's
    /// scopes allow (clinicians only; staff see names and join dates, and
    /// a status filter is `Invalid` for them). Logs `viewed_list` for
    /// each patient on the page whose status it showed. `Invalid` when the
    /// limit is 0 or above [`PatientQuery::MAX_LIMIT`], or the search is
    /// longer than [`PatientQuery::MAX_SEARCH`].
    fn patient_page(
        &self,
        by: &ClinicAccess,
        query: &PatientQuery,
        now: Timestamp,
    ) -> Result<PatientPage>;
    /// Every patient of the clinic: [`ClinicStore::patient_page`] read to
    /// the end.
    fn clinic_patients(&self, by: &ClinicAccess, now: Timestamp) -> Result<Vec<PatientSummary>> {
        let mut query = PatientQuery {
            limit: PatientQuery::MAX_LIMIT,
            ..PatientQuery::first_page()
        };
        let mut all = Vec::new();
        loop {
            let page = self.patient_page(by, &query, now)?;
            all.extend(page.patients);
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(all),
            }
        }
    }
    /// Open red flags of patients who granted the check-ins scope, oldest
    /// first, with this clinic's acknowledgements and when the clinic could
    /// first see each ([`RedFlag::visible_since`]). Clinicians only.
    fn red_flag_queue(&self, by: &ClinicAccess, now: Timestamp) -> Result<Vec<RedFlag>>;
    /// One patient's record as far as the scopes allow; `None` if the
    /// patient is not this clinic's. Clinicians only.
    fn patient_record(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        now: Timestamp,
    ) -> Result<Option<PatientRecord>>;
    /// A photo's metadata under the clinical photos scope; `None` otherwise.
    fn patient_photo(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        photo: PhotoId,
        now: Timestamp,
    ) -> Result<Option<Photo>>;
    /// Acknowledges an open red flag (check-ins scope). Acknowledging twice
    /// is a `Conflict`.
    fn acknowledge(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        episode: EpisodeId,
        note: &str,
        at: Timestamp,
    ) -> Result<()>;
    /// Resolves an open red flag (check-ins scope, clinicians only; see
    /// `Act::Resolve`): the lock lifts, and the episode records the
    /// clinician as its [`needlewise_core::records::Resolver::Clinician`]
    /// with their name in the clinic. Audited as `resolved`.
    /// `NotFound` unless that episode is open.
    fn resolve_flag(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        episode: EpisodeId,
        note: &str,
        at: Timestamp,
    ) -> Result<()>;
    /// Prescribes a protocol (sessions scope); the newest one is in force.
    /// `Invalid` if it does not validate or names another clinic. The
    /// prescriber stored (`prescribed_by`, `prescriber_name`) is the asker
    /// and their display name in the clinic, whatever the protocol says.
    fn prescribe(&self, by: &ClinicAccess, protocol: &Protocol) -> Result<()>;
    /// Overrides a rule (screening scope). The caller checks that the
    /// evidence lets the rule be overridden. `Invalid` for an empty reason.
    /// Like [`ClinicStore::prescribe`], `by` and `by_name` are the asker's.
    fn add_override(&self, by: &ClinicAccess, ov: &Override) -> Result<()>;
    /// Withdraws an override; `NotFound` if the clinic has no such override
    /// in force.
    fn revoke_override(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        id: OverrideId,
        at: Timestamp,
    ) -> Result<()>;

    // What the patient sees of the clinic side.
    /// The newest protocol from a clinic the profile is still the patient
    /// of.
    fn active_protocol(&self, profile: ProfileId) -> Result<Option<Protocol>>;
    /// Overrides in force from clinics the profile is still the patient of.
    fn active_overrides(&self, profile: ProfileId) -> Result<Vec<Override>>;
    /// The profile's audit log, newest first, at most `limit` lines.
    fn audit_log(&self, profile: ProfileId, limit: u32) -> Result<Vec<AuditEntry>>;

    // Notifications.
    fn add_notifications(&self, notes: &[Notification]) -> Result<()>;
    /// Newest first, at most `limit`.
    fn notifications(&self, account: AccountId, limit: u32) -> Result<Vec<Notification>>;
    fn unread_notifications(&self, account: AccountId) -> Result<u64>;
    /// `NotFound` if the account has no such notification.
    fn mark_notification_read(
        &self,
        account: AccountId,
        id: NotificationId,
        at: Timestamp,
    ) -> Result<()>;

    // Escalation: any instance may run the worker; claims make each step
    // go out once.
    /// Every open red flag of a patient who granted the check-ins scope, in
    /// every clinic, with what has been sent and
    /// [`OpenFlag::visible_since`]: a flag raised before the patient joined
    /// the clinic or shared check-ins with it is visible from the current
    /// grant, and its ladder starts there (its first step is due at once,
    /// the later ones after their delay from the grant, not from the flag).
    fn open_flags(&self) -> Result<Vec<OpenFlag>>;
    /// Claims one escalation step and, in the same transaction, writes its
    /// in-app notifications and queues its emails (a transactional
    /// outbox): a crash leaves all of them or none, and a step left
    /// unclaimed is claimed again by the next run. `false`, with nothing
    /// written, when another worker claimed the step first.
    fn escalate_step(
        &self,
        claim: &EscalationClaim,
        notes: &[Notification],
        emails: &[Email],
    ) -> Result<bool>;

    // The email outbox.
    fn queue_email(&self, email: &Email) -> Result<()>;
    /// Takes up to `limit` unsent emails whose lease has lapsed, leasing
    /// them for `lease` so another instance does not send them too.
    fn claim_emails(&self, now: Timestamp, lease: SignedDuration, limit: u32)
    -> Result<Vec<Email>>;
    /// Marks an email sent, or records the error (it is retried after its
    /// lease, at most 5 attempts in all).
    fn finish_email(
        &self,
        id: EmailId,
        outcome: std::result::Result<(), String>,
        at: Timestamp,
    ) -> Result<()>;
    /// Newest first, for the status page and tests.
    fn emails(&self, limit: u32) -> Result<Vec<Email>>;
    /// The state of unsent emails to the clinic's members (matched on
    /// their accounts' addresses): any member may see it, for no patient
    /// data is read; `NotFound` for anyone else.
    fn clinic_mail_status(&self, by: &ClinicAccess) -> Result<MailStatus>;

    // Second factor, re-authentication, sessions, rate limits.
    /// Sets (or with `None` removes) an account's TOTP secret. `Invalid`
    /// if the secret names another account, or is enabled and still names
    /// a pending session; `NotFound` for an unknown account.
    fn set_totp(&self, account: AccountId, secret: Option<&TotpSecret>) -> Result<()>;
    fn totp(&self, account: AccountId) -> Result<Option<TotpSecret>>;
    /// Starts (or restarts) enrolment: stores `secret`, pending and bound
    /// to its `pending_session`, in place of any pending one, in one
    /// statement. `false`, and nothing changed, if the account has an
    /// enabled secret by then (a second factor is never replaced this way).
    /// `Invalid` unless the secret is pending and names a session.
    fn begin_totp(&self, secret: &TotpSecret) -> Result<bool>;
    /// Confirms a pending enrolment: turns the secret on at `at` with
    /// `step` used, in one statement, only if the account's secret is still
    /// pending, still `secret` and still bound to `session`. `false`, and
    /// nothing changed, otherwise.
    fn confirm_totp(
        &self,
        account: AccountId,
        session: &str,
        secret: &[u8],
        at: Timestamp,
        step: i64,
    ) -> Result<bool>;
    /// Accepts a code's time step once: `true` and remembered if `step` is
    /// after the last accepted one, `false` otherwise (a replay);
    /// `NotFound` if the account has no secret.
    fn use_totp_step(&self, account: AccountId, step: i64) -> Result<bool>;
    /// Records that the session's owner just proved who they are (second
    /// factor or password again). `NotFound` for an unknown token.
    fn mark_web_session_verified(&self, token_hash: &str, at: Timestamp) -> Result<()>;
    /// An account's live sessions, newest first.
    fn web_sessions_of(&self, account: AccountId, now: Timestamp) -> Result<Vec<WebSession>>;
    /// Counts one hit on `key` in the window starting at `window_start`
    /// and returns the window's count after it; windows older than
    /// `window_start` for this key are dropped. Shared by every instance.
    fn rate_limit_hit(&self, key: &str, window_start: Timestamp) -> Result<u32>;
    /// Drops every key's windows that started before `before` (keys never
    /// hit again would otherwise stay for good); returns how many.
    fn purge_rate_limits(&self, before: Timestamp) -> Result<u64>;
    /// Deletes the patient and team invitations that expired unused before
    /// `before`: nobody can use them, and a patient invite's label may name
    /// the patient. Used ones stay, as the record of who joined how.
    /// Returns how many.
    fn purge_expired_invites(&self, before: Timestamp) -> Result<u64>;

    // The escalation worker.
    /// A clinic's members, oldest first, for the escalation worker; no
    /// asker. Never call it on behalf of a request: use
    /// [`ClinicStore::members`] there.
    fn members_of(&self, clinic: ClinicId) -> Result<Vec<Member>>;
}

/// Not used by the store itself; ids for new rows.
pub fn new_audit_id() -> AuditId {
    AuditId(uuid::Uuid::now_v7())
}
