//! Appointments at the clinic: the store's side.
//!
//! Every method is one transaction that loads what the core needs (the
//! clinic's zone and hours, the booked slots, the asker's role and the
//! patient's link), asks the core ([`needlewise_core::appointment`],
//! [`needlewise_core::clinic::Act::Schedule`],
//! [`needlewise_core::clinic::patient_may_schedule`]), writes, and appends
//! to the patient's audit log. The database has the last word on a race:
//! one booked appointment per clinic and start time (a partial unique
//! index), so of two bookings of one slot exactly one commits and the
//! other is a [`crate::StoreError::Conflict`] whose text is the core's
//! [`needlewise_core::appointment::Problem::Taken`].

use jiff::Timestamp;
use needlewise_core::appointment::{Appointment, Hours, Proposal, Slot};
use needlewise_core::ids::{AppointmentId, ClinicId, ConversationId, ProfileId, ProposalId};

use crate::Result;
use crate::clinic::ClinicAccess;
use crate::conversation::{MessageMail, NewMessage, Posted};

/// Who asks: the patient (the caller has checked that the profile is the
/// session's own) or a member of the clinic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker<'a> {
    Patient,
    Clinic(&'a ClinicAccess),
}

/// A clinic's scheduling settings and zone, as everyone who books reads
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClinicSchedule {
    pub clinic_id: ClinicId,
    pub clinic_name: String,
    /// The clinic's IANA zone name.
    pub time_zone: String,
    pub hours: Hours,
    /// Whether the clinic has set its hours at all.
    pub set: bool,
}

/// An appointment to book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAppointment {
    /// Chosen by the caller (the form's request key): booking the same id
    /// again stores nothing and answers the stored appointment.
    pub id: AppointmentId,
    pub clinic_id: ClinicId,
    /// The slot's start; its end is the clinic's (or the proposal's).
    pub start: Timestamp,
    /// Booked from this proposal (its slots, even if the hours changed
    /// since), else from the clinic's free slots.
    pub proposal: Option<ProposalId>,
    pub note: String,
    pub at: Timestamp,
}

/// A booked appointment to cancel, or to move to another slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub appointment: AppointmentId,
    pub reason: String,
    /// Moved: the new appointment's id (the request key) and start.
    pub to: Option<(AppointmentId, Timestamp)>,
    pub at: Timestamp,
}

/// An appointment with the names its pages show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppointmentView {
    pub appointment: Appointment,
    pub clinic_name: String,
    pub clinic_time_zone: String,
    pub patient_name: String,
}

/// Slots a member offers in a conversation, with the message that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProposal {
    pub id: ProposalId,
    pub conversation: ConversationId,
    pub slots: Vec<Slot>,
    pub message: NewMessage,
}

/// The most appointments one list shows.
pub const MAX_APPOINTMENTS_LISTED: u32 = 500;

pub trait AppointmentStore {
    /// A clinic's scheduling settings (the default, no hours, when it has
    /// set none). `NotFound` for an unknown clinic. Holds no patient data.
    fn clinic_schedule(&self, clinic: ClinicId) -> Result<ClinicSchedule>;
    /// Sets the clinic's hours, slot length and closed days (any member,
    /// [`needlewise_core::clinic::may_set_hours`]); `Invalid` with the
    /// core's problems, `NotFound` for non-members.
    fn set_clinic_hours(&self, by: &ClinicAccess, hours: &Hours, at: Timestamp) -> Result<()>;
    /// The clinic's free slots of `from..until` at `now`: its hours less
    /// its booked appointments, in the future only.
    fn free_slots(
        &self,
        clinic: ClinicId,
        from: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<Slot>>;

    /// Books a slot for `profile` at the clinic: the patient, while
    /// linked (else `NotFound`); a member, for a linked patient
    /// ([`needlewise_core::clinic::Act::Schedule`]). Logged
    /// `appointment_booked`; from a proposal, the proposal is marked
    /// used. `Invalid` with the core's problem (passed, not offered);
    /// `Conflict` when the slot is taken, also when another booking of it
    /// commits first. The same id again answers `AlreadyStored`.
    fn book_appointment(
        &self,
        asker: Asker<'_>,
        profile: ProfileId,
        new: &NewAppointment,
    ) -> Result<(Appointment, Posted)>;
    /// Cancels a booked appointment, or moves it to another free slot (the
    /// old one `rescheduled`, the new one booked, in one transaction),
    /// logged `appointment_cancelled` or `appointment_rescheduled`.
    /// `Invalid` with the core's problem (no reason, already ended or
    /// begun); `Conflict` when the new slot is taken. The same change sent
    /// again (same asker, reason and new appointment) answers the stored
    /// one and writes nothing.
    fn change_appointment(
        &self,
        asker: Asker<'_>,
        profile: ProfileId,
        change: &Change,
    ) -> Result<Appointment>;
    /// One of the profile's appointments; for a member, logged
    /// `viewed_appointment`. `NotFound` for any other.
    fn appointment(
        &self,
        asker: Asker<'_>,
        profile: ProfileId,
        id: AppointmentId,
        now: Timestamp,
    ) -> Result<AppointmentView>;
    /// The profile's appointments, soonest first (at most
    /// [`MAX_APPOINTMENTS_LISTED`]), with clinics it has left too.
    fn patient_appointments(&self, profile: ProfileId) -> Result<Vec<AppointmentView>>;
    /// The clinic's appointments starting in `from..until`, soonest first,
    /// of patients still linked; logged `viewed_appointments` for each
    /// patient shown (once per list window). `NotFound` for non-members.
    fn clinic_appointments(
        &self,
        by: &ClinicAccess,
        from: Timestamp,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<AppointmentView>>;

    /// Posts the member's message offering one to three free slots in a
    /// conversation the member may answer, with the proposal, in one
    /// transaction: logged `slots_proposed`, an email to the patient.
    /// Refusals as [`crate::ConversationStore::post_clinic_message`], and
    /// `Invalid` with the core's problem for the slots.
    fn propose_slots(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        proposal: &NewProposal,
        mail: &MessageMail,
    ) -> Result<Posted>;
    /// The proposals of one conversation, oldest first: the patient's own,
    /// or, for a member who may read the conversation, logged
    /// `viewed_proposals`.
    fn proposals(
        &self,
        asker: Asker<'_>,
        profile: ProfileId,
        conversation: ConversationId,
        now: Timestamp,
    ) -> Result<Vec<Proposal>>;
}
