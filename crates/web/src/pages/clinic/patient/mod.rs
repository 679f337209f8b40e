//! One patient, as the clinic sees them: the timeline (screening, sessions,
//! check-ins and red flags with acknowledgements, photos with a side-by-side
//! comparison), the protocol and overrides, and the referral packet (FHIR
//! Bundle and PDF) built from the same consented record.
//!
//! Everything is read through `patient_record` and `patient_photo`: the
//! store applies the patient's consent and logs the read. What a scope does
//! not allow is absent from the page, the Bundle and the PDF alike.
//!
//! By concern: [`timeline`] (the page), [`photos`], [`referral`] (Bundle
//! and PDF), [`protocol`] (prescribing) and [`overrides`].

pub mod overrides;
pub mod photos;
pub mod protocol;
pub mod referral;
pub mod timeline;

use needlewise_core::ids::ProfileId;
use needlewise_store::clinic::PatientRecord;

use crate::clinic_ctx::ClinicCtx;
use crate::error::WebError;
use crate::{AppState, blocking};

pub use overrides::{OverrideView, overridable_rules, rule_title};
pub use protocol::{
    DEFAULT_DENSITY, Prescribed, ProtocolInput, ProtocolView, checked_prescription,
    prescribe_protocol, prescription_from_input, zones_of,
};

/// Reads the patient's record for this clinic: 404 when the patient is not
/// the clinic's (or not at all), 403 for staff.
pub async fn record_of(
    state: &AppState,
    ctx: &ClinicCtx,
    profile: ProfileId,
) -> Result<PatientRecord, WebError> {
    ctx.require_clinician()?;
    let access = ctx.access;
    let now = state.now();
    blocking(state, move |s| s.patient_record(&access, profile, now))
        .await?
        .ok_or(WebError::NotFound)
}
