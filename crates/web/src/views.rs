//! Templates and the small view models they render.

use askama::Template;
use needlewise_core::engine::Reason;

/// What every page's frame needs.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub title: String,
    pub nav: &'static str,
    pub csrf: String,
    pub profile: String,
    pub logged_in: bool,
    /// Conversations with a message the reader has not opened, on the
    /// pages that count them (the messages pages, More, the care team and
    /// the clinic's pages); 0 elsewhere, so the home page stays one read.
    pub unread: u32,
}

impl Chrome {
    /// The frame of a logged-in page: the session's CSRF token for its
    /// forms and the working profile's name (built by `Auth::chrome`).
    pub fn signed_in(title: &str, nav: &'static str, csrf: &str, profile: &str) -> Chrome {
        Chrome {
            title: title.to_owned(),
            nav,
            csrf: csrf.to_owned(),
            profile: profile.to_owned(),
            logged_in: true,
            unread: 0,
        }
    }

    pub fn public(title: &str) -> Chrome {
        Chrome {
            title: title.to_owned(),
            ..Chrome::default()
        }
    }
}

/// How a request's dates are written, from its `Accept-Language`: the
/// pages are in English, so English forms, in the order the reader's own
/// English writes them. Set for each request by the router
/// ([`DateStyle::scope`]); everything that writes a date for a page reads
/// it through [`day`] and [`moment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateStyle {
    /// "Mon 7 Dec 2026, 14:05": British and most other English, and the
    /// default for every other language.
    #[default]
    DayFirst,
    /// "Mon, Dec 7, 2026, 2:05 PM": American English.
    MonthFirst,
}

tokio::task_local! {
    static DATE_STYLE: DateStyle;
}

impl DateStyle {
    /// The style for an `Accept-Language` header: that of the language the
    /// reader prefers most (highest `q`, then the first). American English,
    /// and a bare `en` (which CLDR writes as American), write the month
    /// first; the other Englishes and every other language, the day.
    pub fn from_accept_language(header: &str) -> DateStyle {
        let mut best: Option<(f32, &str)> = None;
        for range in header.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let tag = parts.next().unwrap_or_default();
            let q = parts
                .find_map(|p| p.strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .filter(|q| q.is_finite())
                .unwrap_or(1.0);
            if tag.is_empty() || tag == "*" || q <= 0.0 {
                continue;
            }
            if best.is_none_or(|(b, _)| q > b) {
                best = Some((q, tag));
            }
        }
        let Some((_, tag)) = best else {
            return DateStyle::DayFirst;
        };
        let mut subtags = tag.split(['-', '_']);
        let language = subtags.next().unwrap_or_default();
        if !language.eq_ignore_ascii_case("en") {
            return DateStyle::DayFirst;
        }
        // The region, skipping a script subtag (en-Latn-US).
        let region =
            subtags.find(|s| s.len() == 2 || s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()));
        match region {
            None => DateStyle::MonthFirst,
            Some(r)
                if ["US", "UM", "AS", "GU", "MP", "PR", "VI", "PH"]
                    .iter()
                    .any(|us| r.eq_ignore_ascii_case(us)) =>
            {
                DateStyle::MonthFirst
            }
            Some(_) => DateStyle::DayFirst,
        }
    }

    /// The style of the request being answered (the default outside one,
    /// such as an email the worker writes).
    pub fn current() -> DateStyle {
        DATE_STYLE.try_with(|s| *s).unwrap_or_default()
    }

    /// Runs `f` (a request's handling) with this style.
    pub async fn scope<F: std::future::Future>(self, f: F) -> F::Output {
        DATE_STYLE.scope(self, f).await
    }
}

/// A day as every page writes it: "Mon 7 Dec 2026", or "Mon, Dec 7, 2026"
/// for American English (see [`DateStyle`]).
pub fn day(d: jiff::civil::Date) -> String {
    match DateStyle::current() {
        DateStyle::DayFirst => d.strftime("%a %-d %b %Y").to_string(),
        DateStyle::MonthFirst => d.strftime("%a, %b %-d, %Y").to_string(),
    }
}

/// A moment as every page writes it, in the zone it is given in (the
/// person's, or the clinic's): "Mon 7 Dec 2026, 14:05", or
/// "Mon, Dec 7, 2026, 2:05 PM" for American English.
pub fn moment(t: &jiff::ZonedDateTime) -> String {
    let time = match DateStyle::current() {
        DateStyle::DayFirst => t.strftime("%H:%M").to_string(),
        DateStyle::MonthFirst => t.strftime("%-I:%M %p").to_string(),
    };
    format!("{}, {time}", day(t.date()))
}

/// Renders a template; a rendering bug shows a plain message, never a panic.
pub fn render(t: &impl Template) -> String {
    t.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "template failed");
        "<!doctype html><title>Error</title><p>Something went wrong showing this page.</p>"
            .to_owned()
    })
}

/// A reason, flattened for templates.
#[derive(Debug, Clone)]
pub struct ReasonView {
    pub rule_id: String,
    pub title: String,
    pub outcome: String,
    pub explanation: String,
    pub grade: String,
    pub sources: Vec<String>,
    pub until: String,
    pub zones: String,
}

impl From<&Reason> for ReasonView {
    fn from(r: &Reason) -> Self {
        ReasonView {
            rule_id: r.rule_id.clone(),
            title: r.title.clone(),
            outcome: serde_json::to_value(r.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            explanation: r.explanation.clone(),
            grade: format!("{:?}", r.grade),
            sources: r.sources.iter().map(|s| s.id.clone()).collect(),
            until: r.until.map(day).unwrap_or_default(),
            zones: r
                .zones
                .iter()
                .map(|z| z.label())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

pub fn reasons(rs: &[Reason]) -> Vec<ReasonView> {
    rs.iter().map(ReasonView::from).collect()
}

#[derive(Debug, Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub chrome: Chrome,
    pub title: String,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

#[derive(Debug, Template)]
#[template(path = "auth.html")]
pub struct AuthPage {
    pub chrome: Chrome,
    pub heading: &'static str,
    pub action: &'static str,
    pub signup: bool,
    pub email: String,
    pub message: String,
    /// A note that is not an error (after a sign-up), or empty.
    pub notice: String,
    /// Where to go afterwards (a same-site path), or empty.
    pub next: String,
    /// The other form (log in from sign-up, sign up from log-in), carrying
    /// `next` along when there is one.
    pub other: String,
}

#[derive(Debug, Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub chrome: Chrome,
    pub verdict: Option<(String, String)>,
    pub next: String,
    pub devices: Vec<(String, String)>,
    pub checkin: Option<(String, String)>,
    pub locked: bool,
    /// The clinics the profile shares with, named when a red flag is open.
    pub clinics: Vec<String>,
    /// The first-run path, until the first session; empty after.
    pub steps: Vec<Step>,
}

/// A step of the first-run path on the home page.
#[derive(Debug, Clone)]
pub struct Step {
    pub title: &'static str,
    pub href: &'static str,
    pub done: bool,
    pub current: bool,
}

#[derive(Debug, Template)]
#[template(path = "profiles.html")]
pub struct ProfilesPage {
    pub chrome: Chrome,
    pub profiles: Vec<(String, String, bool)>,
    /// The working profile's own time zone, or empty for the server's.
    pub time_zone: String,
    /// The server's time zone, as the default.
    pub server_zone: String,
}

#[derive(Debug, Template)]
#[template(path = "screening_form.html")]
pub struct ScreeningForm {
    pub chrome: Chrome,
    /// The form's request key (see `needlewise_actions::RequestKey`).
    pub key: String,
    /// This step, counted from 1, of `steps`, and what it asks about.
    pub step: usize,
    pub steps: usize,
    pub topic: String,
    /// The next step's topic (empty on the last step).
    pub next_topic: String,
    /// This step's questions.
    pub fields: Vec<FieldView>,
    /// The other steps' answers, carried as hidden inputs.
    pub carried: Vec<(String, String)>,
    pub errors: FormErrors,
}

impl ScreeningForm {
    pub fn is_first(&self) -> bool {
        self.step == 1
    }

    pub fn is_last(&self) -> bool {
        self.step == self.steps
    }
}

#[derive(Debug, Template)]
#[template(path = "screening_result.html")]
pub struct ScreeningResultPage {
    pub chrome: Chrome,
    pub verdict: String,
    pub headline: String,
    pub eligible_from: String,
    pub zones: String,
    pub excluded: Vec<String>,
    pub reasons: Vec<ReasonView>,
    pub taken: String,
    /// Rules a clinician set aside: (title, who and when, why, sources).
    pub overridden: Vec<OverriddenView>,
}

/// A rule a clinician set aside, as the screening result shows it.
#[derive(Debug, Clone)]
pub struct OverriddenView {
    pub title: String,
    pub by: String,
    pub why: String,
    pub evidence: String,
    pub sources: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct DeviceView {
    pub id: String,
    pub name: String,
    pub state: String,
    pub spec: String,
    pub next_step: String,
    pub done_at: String,
    pub done_at_local: String,
    /// The step under way (soaking, drying) has not run its time yet: its
    /// next button waits, disabled, until `done_at`.
    pub waiting: bool,
    pub uses: u32,
    pub uses_left: u32,
    /// (action, label, secondary)
    pub actions: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Debug, Template)]
#[template(path = "devices.html")]
pub struct DevicesPage {
    pub chrome: Chrome,
    pub share: String,
    pub devices: Vec<DeviceView>,
}

#[derive(Debug, Template)]
#[template(path = "ready_form.html")]
pub struct ReadyForm {
    pub chrome: Chrome,
    /// As [`ScreeningForm::key`].
    pub key: String,
    pub devices: Vec<(String, String)>,
    /// The device chosen (empty: the first).
    pub device: String,
    pub fields: Vec<FieldView>,
    pub errors: FormErrors,
}

#[derive(Debug, Template)]
#[template(path = "ready_result.html")]
pub struct ReadyResultPage {
    pub chrome: Chrome,
    /// When it was answered (local time).
    pub taken: String,
    /// Whether the check still holds (else the stored verdict is shown).
    pub holds: bool,
    pub go: bool,
    pub headline: String,
    pub zones: String,
    pub reasons: Vec<ReasonView>,
}

#[derive(Debug, Clone)]
pub struct StepView {
    pub title: String,
    pub avoid: String,
    pub until: String,
    pub active: bool,
    pub explanation: String,
}

#[derive(Debug, Template)]
#[template(path = "aftercare.html")]
pub struct AftercarePage {
    pub chrome: Chrome,
    /// Just after a session was saved: say so.
    pub saved: bool,
    pub session: String,
    pub steps: Vec<StepView>,
    /// (allowed, product, reason)
    pub decision: Option<(bool, String, String)>,
}

#[derive(Debug, Template)]
#[template(path = "checkin_form.html")]
pub struct CheckinForm {
    pub chrome: Chrome,
    /// As [`ScreeningForm::key`].
    pub key: String,
    /// The clinics that see the check-ins and so resolve red flags (empty:
    /// the person resolves them, with a doctor's examination).
    pub resolved_by_clinic: String,
    pub has_session: bool,
    pub session: String,
    /// (episode id, opened, level)
    pub open: Vec<(String, String, String)>,
    /// (when, level id, level label)
    pub history: Vec<(String, String, String)>,
    pub fields: Vec<FieldView>,
    /// The facts the questions depend on, as hidden inputs for the script
    /// that hides questions (the server ignores them).
    pub facts: Vec<(String, String)>,
    pub errors: FormErrors,
}

#[derive(Debug, Template)]
#[template(path = "checkin_result.html")]
pub struct CheckinResultPage {
    pub chrome: Chrome,
    /// "Send this to my surgeon": a new conversation carrying this
    /// check-in as its card.
    pub send_href: String,
    /// When it was answered (local time).
    pub taken: String,
    pub level: String,
    pub headline: String,
    pub locked: bool,
    pub reasons: Vec<ReasonView>,
    /// The questions still unanswered (a partial check-in that raised a
    /// red flag), to answer next.
    pub missing: Vec<String>,
}

#[derive(Debug, Template)]
#[template(path = "checkin_resolve.html")]
pub struct CheckinResolvePage {
    pub chrome: Chrome,
    /// As [`ScreeningForm::key`].
    pub key: String,
    pub episode: String,
    pub opened: String,
    /// The earliest examination date the form accepts.
    pub opened_on: String,
    pub today: String,
    /// The doctor and the day as given, and what is wrong with each.
    pub doctor: String,
    pub doctor_error: String,
    pub examined_on: String,
    pub examined_on_error: String,
    pub fields: Vec<FieldView>,
    /// As [`CheckinForm::facts`].
    pub facts: Vec<(String, String)>,
    pub errors: FormErrors,
}

#[derive(Debug, Template)]
#[template(path = "schedule.html")]
pub struct SchedulePage {
    pub chrome: Chrome,
    pub next: String,
    pub explanation: String,
    /// (number, done, date)
    pub course: Vec<(u32, bool, String)>,
    pub review: String,
    pub course_note: String,
    pub sessions: Vec<String>,
    pub calendar: CalendarLinkView,
}

/// The calendar subscription section of the schedule.
#[derive(Debug, Clone, Default)]
pub struct CalendarLinkView {
    /// When the current link was made (local time); empty without one.
    pub since: String,
    /// The full link, only right after it was made (only its hash is kept).
    pub url: String,
    /// The same link with the `webcal://` scheme.
    pub webcal: String,
}

#[derive(Debug, Clone)]
pub struct RuleView {
    pub id: String,
    pub title: String,
    pub outcome: String,
    pub grade: String,
    pub explanation: String,
    pub policy: String,
    pub sources: Vec<String>,
}

#[derive(Debug, Template)]
#[template(path = "evidence.html")]
pub struct EvidencePage {
    pub chrome: Chrome,
    pub groups: Vec<(String, Vec<RuleView>)>,
    /// (id, citation, link)
    pub sources: Vec<(String, String, String)>,
}

/// A question, ready for a template.
#[derive(Debug, Clone)]
pub struct FieldView {
    pub id: String,
    pub prompt: String,
    pub help: String,
    pub kind: &'static str,
    pub min: String,
    pub max: String,
    pub step: &'static str,
    pub options: Vec<(String, String)>,
    pub zones: Vec<(String, String)>,
    /// JSON of the condition under which it is asked (for the small script
    /// that hides questions that do not apply).
    pub show_if: String,
    pub conditional: bool,
    /// Always asked, so the browser may insist on an answer (`required`);
    /// never set on a question that can be hidden.
    pub required: bool,
    /// The answer given, for a form shown again: the text of a number or
    /// date, and the date of an exposure that stopped.
    pub value: String,
    pub date_value: String,
    /// The options chosen (radios and checkboxes).
    pub chosen: Vec<String>,
    /// The rows offered for past procedures, as given.
    pub rows: Vec<ProcedureRowView>,
    /// What is wrong with the answer, in plain words; empty when nothing is.
    pub error: String,
}

impl FieldView {
    /// Whether an option was chosen.
    pub fn is_chosen(&self, value: &str) -> bool {
        self.chosen.iter().any(|c| c == value)
    }
}

/// One past-procedure row of a form.
#[derive(Debug, Clone, Default)]
pub struct ProcedureRowView {
    pub n: usize,
    pub kind: String,
    pub date: String,
    pub zones: Vec<String>,
}

impl ProcedureRowView {
    pub fn has_zone(&self, zone: &str) -> bool {
        self.zones.iter().any(|z| z == zone)
    }
}

/// A form's problems at its top: (anchor, the question's prompt, the
/// plain message), each linking to its question.
#[derive(Debug, Clone, Default)]
pub struct FormErrors {
    pub items: Vec<(String, String, String)>,
}

impl FormErrors {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
