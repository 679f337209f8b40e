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
use crate::clinic::{CalendarPart, ClinicAccess};
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

/// What happened to an appointment, for the email that tells the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happened {
    Booked,
    Cancelled,
    /// Moved to another slot: the old appointment ended, a new one booked.
    Moved,
}

/// The facts an appointment email is written from, read in the transaction
/// that makes the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppointmentNews<'a> {
    pub happened: Happened,
    /// The appointment as the change left it: booked (`Booked`), cancelled
    /// (`Cancelled`), or the old one, rescheduled (`Moved`); an ended one's
    /// SEQUENCE is one more than when it was booked.
    pub appointment: &'a Appointment,
    /// `Moved`: the new appointment.
    pub new: Option<&'a Appointment>,
    pub clinic_name: &'a str,
    /// The patient's address, which the emails go to.
    pub patient_email: &'a str,
    /// The patient's IANA zone, when their profile has one.
    pub patient_time_zone: Option<&'a str>,
    pub at: Timestamp,
}

/// An email to the patient, written by the caller's [`AppointmentMail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppointmentEmail {
    pub subject: String,
    pub body: String,
    pub calendar: Option<CalendarPart>,
}

/// Writes the emails that tell the patient about a change, from its
/// facts: pure code given by the caller (the web app's
/// `notify::AppointmentMails`, with its iCalendar invitations). The store
/// queues what it returns, as given, to the patient's address in the
/// transaction of the change, so a change and its emails are stored
/// together or not at all; a refused change asks for none. A patient
/// without an address gets none.
pub trait AppointmentMail {
    fn emails(&self, news: &AppointmentNews<'_>) -> Vec<AppointmentEmail>;
}

/// No emails (the command line, which sends none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoMail;

impl AppointmentMail for NoMail {
    fn emails(&self, _: &AppointmentNews<'_>) -> Vec<AppointmentEmail> {
        Vec::new()
    }
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
    /// commits first. The same id again answers `AlreadyStored`. Queues
    /// `mail`'s emails for [`Happened::Booked`] with the booking.
    fn book_appointment(
        &self,
        asker: Asker<'_>,
        profile: ProfileId,
        new: &NewAppointment,
        mail: &dyn AppointmentMail,
    ) -> Result<(Appointment, Posted)>;
    /// Cancels a booked appointment, or moves it to another free slot (the
    /// old one `rescheduled`, the new one booked, in one transaction),
    /// logged `appointment_cancelled` or `appointment_rescheduled`.
    /// `Invalid` with the core's problem (no reason, already ended or
    /// begun); `Conflict` when the new slot is taken. The same change sent
    /// again (same asker, reason and new appointment) answers the stored
    /// one and writes nothing. Queues `mail`'s emails for
    /// [`Happened::Cancelled`] or [`Happened::Moved`] with the change.
    fn change_appointment(
        &self,
        asker: Asker<'_>,
        profile: ProfileId,
        change: &Change,
        mail: &dyn AppointmentMail,
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

    /// What a member booking for a patient sees: the patient's name and
    /// their appointments at the member's clinic from `now` on, soonest
    /// first, for a member who may schedule for them
    /// ([`needlewise_core::clinic::Act::Schedule`], a linked patient), else
    /// `NotFound`. Logged `viewed_appointments`.
    fn patient_schedule(
        &self,
        by: &ClinicAccess,
        profile: ProfileId,
        now: Timestamp,
    ) -> Result<(String, Vec<AppointmentView>)>;

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
