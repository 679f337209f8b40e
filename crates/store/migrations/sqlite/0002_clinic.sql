-- needlewise schema, version 2 (SQLite): the clinic side.
--
-- Tenant ids lead every clinic table's primary key: a clinic's rows are
-- found, and kept apart, by clinic_id first. Patient data stays keyed by
-- profile_id (0001); the tables here say which clinic may see which
-- profile, under which consent scopes, and record what it did.
--
-- Never edit this file once released: add 0003_*.sql instead.

-- When a browser's owner last proved who they are (second factor, or the
-- password again before a sensitive change).
ALTER TABLE web_sessions ADD COLUMN verified_at INTEGER;

-- Each person's own IANA time zone (NULL: the server's), so a clinic's
-- patients in other zones get their own "today".
ALTER TABLE profiles ADD COLUMN time_zone TEXT;

CREATE TABLE clinics (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL CHECK (name <> ''),
    time_zone   TEXT    NOT NULL,
    ladder      TEXT    NOT NULL,  -- JSON: the escalation ladder
    created_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE clinic_members (
    clinic_id    TEXT    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    account_id   TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role         TEXT    NOT NULL CHECK (role IN ('clinician', 'staff')),
    display_name TEXT    NOT NULL,
    joined_at    INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, account_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX clinic_members_account ON clinic_members (account_id);

-- Single-use invitations; only the code's SHA-256 is kept.
CREATE TABLE clinic_invites (
    clinic_id   TEXT    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    code_hash   TEXT    NOT NULL UNIQUE,
    label       TEXT    NOT NULL DEFAULT '',
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_by     TEXT    REFERENCES profiles (id) ON DELETE SET NULL,
    used_at     INTEGER,
    PRIMARY KEY (clinic_id, code_hash)
) STRICT, WITHOUT ROWID;

-- A profile is a clinic's patient while this row exists.
CREATE TABLE clinic_patients (
    clinic_id   TEXT    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    profile_id  TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    joined_at   INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, profile_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX clinic_patients_profile ON clinic_patients (profile_id);

-- The scopes a patient grants a clinic; a revoked scope's row is deleted.
CREATE TABLE consents (
    clinic_id   TEXT    NOT NULL,
    profile_id  TEXT    NOT NULL,
    scope       TEXT    NOT NULL CHECK (scope IN ('screening', 'sessions', 'checkins', 'photos_clinical', 'photos_teaching')),
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, profile_id, scope),
    FOREIGN KEY (clinic_id, profile_id) REFERENCES clinic_patients (clinic_id, profile_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Prescribed protocols; the newest per patient and clinic is in force.
CREATE TABLE protocols (
    clinic_id      TEXT    NOT NULL,
    profile_id     TEXT    NOT NULL,
    id             TEXT    NOT NULL,
    prescribed_by  TEXT    NOT NULL,
    prescribed_at  INTEGER NOT NULL,
    body           TEXT    NOT NULL,  -- JSON: the protocol
    PRIMARY KEY (clinic_id, profile_id, id),
    FOREIGN KEY (clinic_id, profile_id) REFERENCES clinic_patients (clinic_id, profile_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX protocols_newest ON protocols (profile_id, prescribed_at DESC, id DESC);

CREATE TABLE rule_overrides (
    clinic_id   TEXT    NOT NULL,
    profile_id  TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    rule_id     TEXT    NOT NULL,
    by_account  TEXT    NOT NULL,
    by_name     TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    reason      TEXT    NOT NULL CHECK (reason <> ''),
    revoked_at  INTEGER,
    PRIMARY KEY (clinic_id, profile_id, id),
    FOREIGN KEY (clinic_id, profile_id) REFERENCES clinic_patients (clinic_id, profile_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX rule_overrides_profile ON rule_overrides (profile_id) WHERE revoked_at IS NULL;

CREATE TABLE red_flag_acks (
    clinic_id   TEXT    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    profile_id  TEXT    NOT NULL,
    episode_id  TEXT    NOT NULL,
    by_account  TEXT    NOT NULL,
    by_name     TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    note        TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (clinic_id, profile_id, episode_id),
    FOREIGN KEY (profile_id, episode_id) REFERENCES episodes (profile_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Which escalation steps went out: the primary key makes each go once,
-- whichever instance claims it.
CREATE TABLE escalations (
    clinic_id   TEXT    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    profile_id  TEXT    NOT NULL,
    episode_id  TEXT    NOT NULL,
    step        INTEGER NOT NULL CHECK (step >= 0),
    at          INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, profile_id, episode_id, step),
    FOREIGN KEY (profile_id, episode_id) REFERENCES episodes (profile_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE notifications (
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id          TEXT    NOT NULL,
    clinic_id   TEXT    REFERENCES clinics (id) ON DELETE CASCADE,
    profile_id  TEXT    REFERENCES profiles (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    link        TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    read_at     INTEGER,
    PRIMARY KEY (account_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX notifications_newest ON notifications (account_id, created_at DESC, id DESC);

-- The patient's audit log: who at which clinic read or changed what.
CREATE TABLE audit_log (
    profile_id  TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id          TEXT    NOT NULL,
    clinic_id   TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    actor_name  TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT '',
    at          INTEGER NOT NULL,
    -- Newest first is the primary key read backwards: no second index,
    -- so a clinician's list view (one line per patient shown) writes one
    -- page per patient, not two.
    PRIMARY KEY (profile_id, at, id)
) STRICT, WITHOUT ROWID;

-- Emails to send; claimed with a lease so one instance sends each.
CREATE TABLE email_outbox (
    id            TEXT    NOT NULL PRIMARY KEY,
    recipient     TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    sent_at       INTEGER,
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    leased_until  INTEGER,
    last_error    TEXT    NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;
CREATE INDEX email_outbox_pending ON email_outbox (created_at) WHERE sent_at IS NULL;

CREATE TABLE totp_secrets (
    account_id  TEXT    NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    secret      TEXT    NOT NULL,  -- lower-case hex of the raw secret
    enabled_at  INTEGER,
    last_step   INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

-- Shared counters for rate limits (log-in attempts), one row per key and
-- window, so several instances count together.
CREATE TABLE rate_limits (
    key          TEXT    NOT NULL,
    window_start INTEGER NOT NULL,
    hits         INTEGER NOT NULL CHECK (hits >= 0),
    PRIMARY KEY (key, window_start)
) STRICT, WITHOUT ROWID;
