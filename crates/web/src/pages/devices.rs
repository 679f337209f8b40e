//! Rollers and pens, and their cleaning cycle.

use axum::body::Bytes;
use axum::extract::Path;
use axum::response::Response;
use jiff::Timestamp;
use needlewise_core::evidence;
use needlewise_core::hygiene::{Device, DeviceKind, HygieneEvent, HygieneState};
use needlewise_core::ids::{DeviceId, ProfileId};
use needlewise_core::records::Profile;

use super::{checked_form, page, see_other};
use crate::auth::Me;
use crate::error::WebError;
use crate::views::{DeviceView, DevicesPage};
use crate::{AppState, act, blocking, forms};

/// The buttons that make sense in each state (action, label, secondary).
fn actions(d: &Device) -> Vec<(&'static str, &'static str, bool)> {
    let mut out = match (d.state, d.kind.is_pen()) {
        (HygieneState::Retired, _) => return vec![],
        (_, true) => vec![("cartridge", "New sterile cartridge fitted", false)],
        (HygieneState::New | HygieneState::Used | HygieneState::Ready, false) => {
            vec![("rinse", "Rinsed", false)]
        }
        (HygieneState::Rinsed, false) => vec![("soak", "Put to soak", false)],
        (HygieneState::Soaking { .. }, false) => {
            vec![("dry", "Out of the soak, air-drying", false)]
        }
        (HygieneState::Drying { .. }, false) => vec![("ready", "Dry and capped", false)],
    };
    out.push(("damage", "Report damage", true));
    out.push(("retire", "Retire", true));
    out
}

pub fn view(state: &AppState, d: &Device, now: Timestamp) -> DeviceView {
    let status = d.status(now, &evidence().defaults.hygiene);
    let spec = match d.kind {
        DeviceKind::Roller(r) => format!(
            "Roller: {} needles of {} mm on a {} × {} mm drum",
            r.needle_count, r.needle_length_mm, r.drum_diameter_mm, r.drum_width_mm
        ),
        DeviceKind::Pen(p) => format!(
            "Pen: {}-needle cartridges, {} mm",
            p.needles_per_cartridge, p.needle_length_mm
        ),
    };
    DeviceView {
        id: d.id.to_string(),
        name: d.name.clone(),
        state: status.state.to_owned(),
        spec,
        next_step: status.next_step,
        done_at: status
            .step_done_at
            .map(|t| t.to_string())
            .unwrap_or_default(),
        done_at_local: status
            .step_done_at
            .map(|t| state.local(t))
            .unwrap_or_default(),
        waiting: status.step_done_at.is_some_and(|t| t > now),
        uses: status.use_count,
        uses_left: status.uses_left,
        actions: actions(d),
    }
}

pub async fn list(Me { state, auth }: Me) -> Result<Response, WebError> {
    let profile = auth.profile.id;
    let devices = blocking(&state, move |s| s.devices(profile)).await?;
    let now = state.now();
    Ok(page(&DevicesPage {
        chrome: auth.chrome("Your roller", "devices"),
        share: evidence().defaults.hygiene.share.explanation.clone(),
        devices: devices.iter().map(|d| view(&state, d, now)).collect(),
    }))
}

pub async fn add(Me { state, auth }: Me, body: Bytes) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let name = forms::required(&pairs, "name")?;
    let needle: f64 = forms::required(&pairs, "needle_mm")?
        .replace(',', ".")
        .parse()
        .map_err(|_| WebError::BadInput("needle_mm: enter a length in mm, such as 0.25".into()))?;
    if forms::field(&pairs, "kind") == Some("rf_microneedling") {
        return Err(needlewise_actions::radiofrequency_refused().into());
    }
    let pen = forms::field(&pairs, "kind") == Some("pen");
    create(&state, &auth.profile, name, pen, needle).await?;
    Ok(see_other("/devices"))
}

/// Adds a roller (the common 192-needle drum) or a pen (12-needle
/// cartridges) with the given needle length.
pub async fn create(
    state: &AppState,
    profile: &Profile,
    name: &str,
    pen: bool,
    needle_mm: f64,
) -> Result<Device, WebError> {
    let profile = profile.clone();
    let new = needlewise_actions::NewDevice::simple(name, pen, needle_mm);
    act(state, move |ctx| {
        needlewise_actions::register_device(ctx, &profile, new)
    })
    .await
}

pub fn event(
    action: &str,
    alcohol_percent: Option<&str>,
    note: Option<&str>,
) -> Result<Option<HygieneEvent>, WebError> {
    Ok(Some(match action {
        "rinse" => HygieneEvent::Rinse,
        "soak" => HygieneEvent::Soak {
            alcohol_percent: alcohol_percent
                .unwrap_or("70")
                .trim()
                .parse()
                .map_err(|_| {
                    WebError::BadInput("alcohol: enter a strength in percent, such as 70".into())
                })?,
        },
        "dry" => HygieneEvent::Dry,
        "ready" => HygieneEvent::MarkReady,
        "cartridge" => HygieneEvent::FitCartridge,
        "damage" => HygieneEvent::ReportDamage {
            note: note.unwrap_or_default().to_owned(),
        },
        "retire" => HygieneEvent::Retire {
            reason: "retired in the web app".into(),
        },
        _ => return Ok(None),
    }))
}

/// Applies one step of the cycle to one of the profile's devices and
/// returns the device after it. Another profile's device is not found.
pub async fn apply(
    state: &AppState,
    profile: ProfileId,
    id: DeviceId,
    event: HygieneEvent,
) -> Result<Device, WebError> {
    act(state, move |ctx| {
        needlewise_actions::device_step(ctx, profile, id, &event, None)
    })
    .await
}

/// Applies one step of the cycle. Another profile's device is not found.
pub async fn transition(
    Me { state, auth }: Me,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked_form(&auth, &body)?;
    let id: DeviceId = id.parse().map_err(|_| WebError::NotFound)?;
    let event = event(
        &action,
        forms::field(&pairs, "alcohol"),
        forms::field(&pairs, "note"),
    )?
    .ok_or(WebError::NotFound)?;
    apply(&state, auth.profile.id, id, event).await?;
    Ok(see_other("/devices"))
}
