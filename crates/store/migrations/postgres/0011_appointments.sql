-- needlewise schema, version 11 (PostgreSQL): appointments at the clinic.
--
-- A clinic's opening hours (per weekday, JSON), its slot length and closed
-- days; appointments (keyed by clinic, then profile, like conversations);
-- the slots a clinic member proposed in a conversation.
--
-- Double booking is impossible by construction: a partial unique index
-- holds one booked appointment per clinic and start time, so of two
-- bookings of one slot at the same moment exactly one commits.
--
-- Never edit this file once released: add a new migration instead.

CREATE TABLE clinic_hours (
    clinic_id    uuid NOT NULL PRIMARY KEY REFERENCES clinics (id) ON DELETE CASCADE,
    week         jsonb NOT NULL,  -- seven lists of {start, end}, Monday first
    slot_minutes integer NOT NULL CHECK (slot_minutes BETWEEN 15 AND 120),
    closed       jsonb NOT NULL,  -- a list of YYYY-MM-DD dates
    updated_by   uuid NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE appointment_proposals (
    clinic_id        uuid NOT NULL,
    profile_id       uuid NOT NULL,
    id               uuid NOT NULL,
    conversation_id  uuid NOT NULL,
    message_id       uuid NOT NULL,
    proposed_by      uuid NOT NULL,
    proposed_by_name text NOT NULL,
    created_at       timestamptz NOT NULL,
    booked           uuid,
    PRIMARY KEY (clinic_id, profile_id, id),
    FOREIGN KEY (clinic_id, profile_id, conversation_id)
        REFERENCES conversations (clinic_id, profile_id, id) ON DELETE CASCADE
);
CREATE INDEX appointment_proposals_conversation
    ON appointment_proposals (clinic_id, profile_id, conversation_id);

CREATE TABLE proposed_slots (
    clinic_id   uuid NOT NULL,
    profile_id  uuid NOT NULL,
    proposal_id uuid NOT NULL,
    position    integer NOT NULL CHECK (position BETWEEN 0 AND 2),
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, profile_id, proposal_id, position),
    CHECK (ends_at > starts_at),
    FOREIGN KEY (clinic_id, profile_id, proposal_id)
        REFERENCES appointment_proposals (clinic_id, profile_id, id) ON DELETE CASCADE
);

CREATE TABLE appointments (
    clinic_id       uuid NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    profile_id      uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    status          text NOT NULL CHECK (status IN ('booked', 'cancelled', 'rescheduled')),
    note            text NOT NULL,
    conversation_id uuid,
    proposal_id     uuid,
    replaces        uuid,
    booked_by       uuid NOT NULL,
    booked_side     text NOT NULL CHECK (booked_side IN ('patient', 'clinic')),
    booked_by_name  text NOT NULL,
    booked_at       timestamptz NOT NULL,
    ended_by        uuid,
    ended_side      text CHECK (ended_side IN ('patient', 'clinic')),
    ended_by_name   text,
    ended_at        timestamptz,
    end_reason      text,
    replaced_by     uuid,
    sequence        integer NOT NULL CHECK (sequence >= 0),
    PRIMARY KEY (clinic_id, profile_id, id),
    UNIQUE (profile_id, id),
    CHECK (ends_at > starts_at),
    CHECK ((status = 'booked') = (ended_at IS NULL)),
    CHECK ((status = 'rescheduled') = (replaced_by IS NOT NULL))
);
-- One booked appointment per clinic and start time: double booking is
-- refused by the database, whatever the application checked before.
CREATE UNIQUE INDEX appointments_one_per_slot
    ON appointments (clinic_id, starts_at) WHERE status = 'booked';
-- The clinic's day and the patient's list.
CREATE INDEX appointments_clinic ON appointments (clinic_id, starts_at);
CREATE INDEX appointments_patient ON appointments (profile_id, starts_at);
