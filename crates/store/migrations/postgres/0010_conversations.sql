-- needlewise schema, version 10 (PostgreSQL): conversations between a
-- patient and their clinic ("Ask your surgeon"), their messages and the
-- photos attached to them.
--
-- Keyed by clinic, then profile (tenant first). A conversation belongs to
-- its profile and its clinic, not to the link between them: a patient who
-- leaves the clinic keeps reading the history, and nobody at the clinic
-- reads it any more (the store checks the link on every clinic read).
--
-- Never edit this file once released: add a new migration instead.

CREATE TABLE conversations (
    clinic_id         uuid    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    profile_id        uuid    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id                uuid    NOT NULL,
    subject           text    NOT NULL CHECK (subject <> ''),
    origin_checkin_id uuid,
    origin_episode_id uuid,
    origin_card       jsonb,  -- the check-in's answers and rules, as sent
    shared_with_staff boolean NOT NULL,
    started_by        uuid    NOT NULL,
    created_at        timestamptz NOT NULL,
    last_message_at   timestamptz NOT NULL,
    last_side         text    NOT NULL CHECK (last_side IN ('patient', 'clinic')),
    last_patient_at   timestamptz,
    last_clinic_at    timestamptz,
    patient_read_at   timestamptz,
    clinic_read_at    timestamptz,
    PRIMARY KEY (clinic_id, profile_id, id),
    CHECK (origin_card IS NOT NULL OR (origin_checkin_id IS NULL AND origin_episode_id IS NULL)),
    CHECK (origin_card IS NULL OR NOT shared_with_staff)
);
-- The clinic's inbox, newest activity first; the patient's list.
CREATE INDEX conversations_inbox ON conversations (clinic_id, last_message_at DESC, id DESC);
CREATE INDEX conversations_patient ON conversations (profile_id, last_message_at DESC, id DESC);

CREATE TABLE messages (
    clinic_id       uuid    NOT NULL,
    profile_id      uuid    NOT NULL,
    conversation_id uuid    NOT NULL,
    id              uuid    NOT NULL,
    author          uuid    NOT NULL,
    side            text    NOT NULL CHECK (side IN ('patient', 'clinic')),
    author_name     text    NOT NULL,
    body            text    NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, profile_id, conversation_id, id),
    FOREIGN KEY (clinic_id, profile_id, conversation_id)
        REFERENCES conversations (clinic_id, profile_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_profile ON messages (profile_id);

CREATE TABLE message_photos (
    clinic_id       uuid    NOT NULL,
    profile_id      uuid    NOT NULL,
    conversation_id uuid    NOT NULL,
    message_id      uuid    NOT NULL,
    id              uuid    NOT NULL,
    position        integer NOT NULL CHECK (position BETWEEN 0 AND 3),
    width           integer NOT NULL CHECK (width > 0),
    height          integer NOT NULL CHECK (height > 0),
    bytes           bigint  NOT NULL CHECK (bytes > 0),
    sha256          text    NOT NULL,
    stored_name     text    NOT NULL,
    PRIMARY KEY (clinic_id, profile_id, conversation_id, message_id, id),
    UNIQUE (profile_id, id),
    FOREIGN KEY (clinic_id, profile_id, conversation_id, message_id)
        REFERENCES messages (clinic_id, profile_id, conversation_id, id) ON DELETE CASCADE
);
