-- needlewise schema, version 10 (SQLite): conversations between a patient
-- and their clinic ("Ask your surgeon"), their messages and the photos
-- attached to them.
--
-- Keyed by clinic, then profile (tenant first). A conversation belongs to
-- its profile and its clinic, not to the link between them: a patient who
-- leaves the clinic keeps reading the history, and nobody at the clinic
-- reads it any more (the store checks the link on every clinic read).
--
-- Never edit this file once released: add a new migration instead.

CREATE TABLE conversations (
    clinic_id         TEXT    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    profile_id        TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id                TEXT    NOT NULL,
    subject           TEXT    NOT NULL CHECK (subject <> ''),
    origin_checkin_id TEXT,
    origin_episode_id TEXT,
    origin_card       TEXT,  -- JSON: the check-in's answers and rules, as sent
    shared_with_staff INTEGER NOT NULL CHECK (shared_with_staff IN (0, 1)),
    started_by        TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    last_message_at   INTEGER NOT NULL,
    last_side         TEXT    NOT NULL CHECK (last_side IN ('patient', 'clinic')),
    last_patient_at   INTEGER,
    last_clinic_at    INTEGER,
    patient_read_at   INTEGER,
    clinic_read_at    INTEGER,
    PRIMARY KEY (clinic_id, profile_id, id),
    CHECK (origin_card IS NOT NULL OR (origin_checkin_id IS NULL AND origin_episode_id IS NULL)),
    CHECK (origin_card IS NULL OR shared_with_staff = 0)
) STRICT;
-- The clinic's inbox, newest activity first; the patient's list.
CREATE INDEX conversations_inbox ON conversations (clinic_id, last_message_at DESC, id DESC);
CREATE INDEX conversations_patient ON conversations (profile_id, last_message_at DESC, id DESC);

CREATE TABLE messages (
    clinic_id       TEXT    NOT NULL,
    profile_id      TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    author          TEXT    NOT NULL,
    side            TEXT    NOT NULL CHECK (side IN ('patient', 'clinic')),
    author_name     TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, profile_id, conversation_id, id),
    FOREIGN KEY (clinic_id, profile_id, conversation_id)
        REFERENCES conversations (clinic_id, profile_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX messages_profile ON messages (profile_id);

CREATE TABLE message_photos (
    clinic_id       TEXT    NOT NULL,
    profile_id      TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL,
    message_id      TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    position        INTEGER NOT NULL CHECK (position BETWEEN 0 AND 3),
    width           INTEGER NOT NULL CHECK (width > 0),
    height          INTEGER NOT NULL CHECK (height > 0),
    bytes           INTEGER NOT NULL CHECK (bytes > 0),
    sha256          TEXT    NOT NULL,
    stored_name     TEXT    NOT NULL,
    PRIMARY KEY (clinic_id, profile_id, conversation_id, message_id, id),
    UNIQUE (profile_id, id),
    FOREIGN KEY (clinic_id, profile_id, conversation_id, message_id)
        REFERENCES messages (clinic_id, profile_id, conversation_id, id) ON DELETE CASCADE
) STRICT;
