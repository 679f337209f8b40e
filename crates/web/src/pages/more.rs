//! `/more`: every section and the account's pages, for the phone's tab
//! bar (which holds only the four most used); `/data`: every way to take
//! one's data out, and to delete it.

use askama::Template;
use axum::Router;
use axum::extract::Query;
use axum::response::Response;
use axum::routing::get;

use super::page;
use crate::auth::{Auth, Me};
use crate::error::WebError;
use crate::views::Chrome;
use crate::{AppState, blocking};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/more", get(more))
        .route("/data", get(data))
}

/// `/offline`: what the service worker shows without a network, and
/// after keeping a finished session to send later (`?kept=session`).
pub async fn offline(Query(q): Query<OfflineQuery>) -> Response {
    page(&OfflinePage {
        chrome: Chrome::public("Offline"),
        kept: q.kept.as_deref() == Some("session"),
    })
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct OfflineQuery {
    kept: Option<String>,
}

#[derive(Debug, Template)]
#[template(path = "offline.html")]
pub struct OfflinePage {
    pub chrome: Chrome,
    pub kept: bool,
}

/// A link with a line saying what is behind it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub href: &'static str,
    pub title: &'static str,
    pub about: &'static str,
}

const SECTIONS: [Entry; 10] = [
    Entry {
        href: "/screening",
        title: "Screening",
        about: "Whether microneedling at home suits you, with the reasons.",
    },
    Entry {
        href: "/devices",
        title: "Roller",
        about: "Your roller's cleaning cycle, uses and replacement.",
    },
    Entry {
        href: "/ready",
        title: "Ready today?",
        about: "The check before each session.",
    },
    Entry {
        href: "/aftercare",
        title: "Aftercare",
        about: "What to put on your skin after a session, and when.",
    },
    Entry {
        href: "/schedule",
        title: "Schedule",
        about: "The earliest next session, and reminders in your calendar.",
    },
    Entry {
        href: "/messages",
        title: "Ask my care team",
        about: "Messages with your facial plastic surgeon's clinic.",
    },
    Entry {
        href: "/appointments",
        title: "Your appointments",
        about: "Book, move or cancel an appointment at your clinic.",
    },
    Entry {
        href: "/care-team",
        title: "Care team",
        about: "Your facial plastic surgeon's clinic, and what you share with it.",
    },
    Entry {
        href: "/evidence",
        title: "Evidence",
        about: "Every rule needlewise follows, and its sources.",
    },
    Entry {
        href: "/data",
        title: "Your data",
        about: "Download your record, or delete it.",
    },
];

const ACCOUNT: [Entry; 4] = [
    Entry {
        href: "/profiles",
        title: "Profiles",
        about: "Who you are microneedling for, and their time zone.",
    },
    Entry {
        href: "/notifications",
        title: "Notifications",
        about: "Messages from needlewise and your clinic.",
    },
    Entry {
        href: "/account/sessions",
        title: "Security",
        about: "Your password, second factor and logged-in devices.",
    },
    Entry {
        href: "/account/delete",
        title: "Delete my account",
        about: "Everything, for good.",
    },
];

#[derive(Debug, Template)]
#[template(path = "more.html")]
pub struct MorePage {
    pub chrome: Chrome,
    pub sections: &'static [Entry],
    pub account: &'static [Entry],
    /// Conversations with an answer not opened yet.
    pub unread: u32,
}

pub async fn more(Me { state, auth }: Me) -> Result<Response, WebError> {
    let profile = auth.profile.id;
    let unread = blocking(&state, move |s| s.patient_unread(profile)).await?;
    let mut chrome = auth.chrome("More", "more");
    chrome.unread = unread;
    Ok(page(&MorePage {
        chrome,
        sections: &SECTIONS,
        account: &ACCOUNT,
        unread,
    }))
}

#[derive(Debug, Template)]
#[template(path = "data.html")]
pub struct DataPage {
    pub chrome: Chrome,
    pub profile: String,
}

pub async fn data(auth: Auth) -> Response {
    page(&DataPage {
        profile: auth.profile.name.clone(),
        chrome: auth.chrome("Your data", "data"),
    })
}
