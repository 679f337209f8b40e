-- needlewise schema, version 11 (SQLite): appointments at the clinic.
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
    clinic_id    TEXT    NOT NULL PRIMARY KEY REFERENCES clinics (id) ON DELETE CASCADE,
    week         TEXT    NOT NULL,  -- JSON: seven lists of {start, end}, Monday first
    slot_minutes INTEGER NOT NULL CHECK (slot_minutes BETWEEN 15 AND 120),
    closed       TEXT    NOT NULL,  -- JSON: a list of YYYY-MM-DD dates
    updated_by   TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE appointment_proposals (
    clinic_id        TEXT    NOT NULL,
    profile_id       TEXT    NOT NULL,
    id               TEXT    NOT NULL,
    conversation_id  TEXT    NOT NULL,
    message_id       TEXT    NOT NULL,
    proposed_by      TEXT    NOT NULL,
    proposed_by_name TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    booked           TEXT,
    PRIMARY KEY (clinic_id, profile_id, id),
    FOREIGN KEY (clinic_id, profile_id, conversation_id)
        REFERENCES conversations (clinic_id, profile_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX appointment_proposals_conversation
    ON appointment_proposals (clinic_id, profile_id, conversation_id);

CREATE TABLE proposed_slots (
    clinic_id   TEXT    NOT NULL,
    profile_id  TEXT    NOT NULL,
    proposal_id TEXT    NOT NULL,
    position    INTEGER NOT NULL CHECK (position BETWEEN 0 AND 2),
    starts_at   INTEGER NOT NULL,
    ends_at     INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, profile_id, proposal_id, position),
    CHECK (ends_at > starts_at),
    FOREIGN KEY (clinic_id, profile_id, proposal_id)
        REFERENCES appointment_proposals (clinic_id, profile_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE appointments (
    clinic_id       TEXT    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    profile_id      TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id              TEXT    NOT NULL,
    starts_at       INTEGER NOT NULL,
    ends_at         INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('booked', 'cancelled', 'rescheduled')),
    note            TEXT    NOT NULL,
    conversation_id TEXT,
    proposal_id     TEXT,
    replaces        TEXT,
    booked_by       TEXT    NOT NULL,
    booked_side     TEXT    NOT NULL CHECK (booked_side IN ('patient', 'clinic')),
    booked_by_name  TEXT    NOT NULL,
    booked_at       INTEGER NOT NULL,
    ended_by        TEXT,
    ended_side      TEXT    CHECK (ended_side IN ('patient', 'clinic')),
    ended_by_name   TEXT,
    ended_at        INTEGER,
    end_reason      TEXT,
    replaced_by     TEXT,
    sequence        INTEGER NOT NULL CHECK (sequence >= 0),
    PRIMARY KEY (clinic_id, profile_id, id),
    UNIQUE (profile_id, id),
    CHECK (ends_at > starts_at),
    CHECK ((status = 'booked') = (ended_at IS NULL)),
    CHECK ((status = 'rescheduled') = (replaced_by IS NOT NULL))
) STRICT;
-- One booked appointment per clinic and start time: double booking is
-- refused by the database, whatever the application checked before.
CREATE UNIQUE INDEX appointments_one_per_slot
    ON appointments (clinic_id, starts_at) WHERE status = 'booked';
-- The clinic's day and the patient's list.
CREATE INDEX appointments_clinic ON appointments (clinic_id, starts_at);
CREATE INDEX appointments_patient ON appointments (profile_id, starts_at);
