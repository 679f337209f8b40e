//! Deleting a profile or the whole account, with everything in it.
//!
//! Both need a confirmation that cannot be given by accident: the
//! profile's name typed in, or the account's password. Both are CSRF
//! checked like every form. The store removes the rows (on SQLite it
//! overwrites them and checkpoints its log, so nothing lingers in the
//! files); the photo folders on disk go too. Deleting the account ends
//! every session of it and clears the cookie.

use askama::Template;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use needlewise_core::ids::ProfileId;

use super::{checked_form, page, see_other, see_other_with_cookie};
use crate::auth::{self, Auth, Me};
use crate::error::WebError;
use crate::views::Chrome;
use crate::{AppState, blocking, forms};

#[derive(Debug, Template)]
#[template(path = "delete.html")]
pub struct DeletePage {
    pub chrome: Chrome,
    /// The account form (else the profile form).
    pub account: bool,
    pub profile_id: String,
    pub profile_name: String,
    pub profile_count: usize,
    pub only_profile: bool,
    pub message: String,
}

fn delete_page(auth: &Auth, account: bool, message: String) -> DeletePage {
    DeletePage {
        chrome: auth.chrome(
            if account {
                "Delete my account"
            } else {
                "Delete this profile"
            },
            "",
        ),
        account,
        profile_id: auth.profile.id.to_string(),
        profile_name: auth.profile.name.clone(),
        profile_count: auth.profiles.len(),
        only_profile: auth.profiles.len() <= 1,
        message,
    }
}

fn refused(auth: &Auth, account: bool, message: &str) -> Response {
    let mut r = page(&delete_page(auth, account, message.to_owned()));
    *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    r
}

/// Removes the photo folders of these profiles, off the executor.
async fn remove_photos(state: &AppState, profiles: Vec<ProfileId>) -> Result<(), WebError> {
    let Some(dir) = state.photo_dir.clone() else {
        return Ok(());
    };
    tokio::task::spawn_blocking(move || {
        for p in profiles {
            let d = dir.join(p.to_string());
            match std::fs::remove_dir_all(&d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(WebError::Internal(anyhow::anyhow!(
                        "cannot remove {}: {e}",
                        d.display()
                    )));
                }
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| WebError::Internal(e.into()))?
}

pub async fn profile_form(auth: Auth) -> Response {
    page(&delete_page(&auth, false, String::new()))
}

pub async fn delete_profile(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let id: ProfileId = forms::required(&pairs, "profile")?
        .parse()
        .map_err(|_| WebError::NotFound)?;
    // Only the account's own profiles, and never the last one.
    let Some(profile) = auth.profiles.iter().find(|p| p.id == id).cloned() else {
        return Err(WebError::NotFound);
    };
    if auth.profiles.len() <= 1 {
        return Ok(refused(
            &auth,
            false,
            "this is your only profile; delete your account instead",
        ));
    }
    let typed = forms::field(&pairs, "confirm_name").unwrap_or_default();
    if typed.trim() != profile.name {
        return Ok(refused(
            &auth,
            false,
            "the name you typed is not this profile's name; nothing was deleted",
        ));
    }
    blocking(&state, move |s| s.delete_profile(id)).await?;
    remove_photos(&state, vec![id]).await?;
    Ok(see_other("/profiles"))
}

pub async fn account_form(auth: Auth) -> Response {
    page(&delete_page(&auth, true, String::new()))
}

pub async fn delete_account(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let account_id = auth.session.account_id;
    if auth::over_limit(&state, vec![format!("delete:{account_id}")]).await? {
        return Err(WebError::RateLimited);
    }
    let password = forms::field(&pairs, "password")
        .unwrap_or_default()
        .to_owned();
    let account = blocking(&state, move |s| s.account(account_id)).await?;
    let ok = auth::verify_password(account.map(|a| a.password_hash), password).await?;
    if !ok {
        return Ok(refused(
            &auth,
            true,
            "the password is not right; nothing was deleted",
        ));
    }
    let profiles: Vec<ProfileId> = auth.profiles.iter().map(|p| p.id).collect();
    // Deleting the account deletes its profiles and every web session.
    blocking(&state, move |s| s.delete_account(account_id)).await?;
    remove_photos(&state, profiles).await?;
    Ok(see_other_with_cookie("/signup", auth::clear_cookie(&state)))
}
