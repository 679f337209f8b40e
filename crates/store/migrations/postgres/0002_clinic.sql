-- needlewise schema, version 2 (PostgreSQL): the clinic side.
--
-- Tenant ids lead every clinic table's primary key: a clinic's rows are
-- found, and kept apart, by clinic_id first. Patient data stays keyed by
-- profile_id (0001); the tables here say which clinic may see which
-- profile, under which consent scopes, and record what it did.
--
-- Never edit this file once released: add 0003_*.sql instead.

-- When a browser's owner last proved who they are (second factor, or the
-- password again before a sensitive change).
ALTER TABLE web_sessions ADD COLUMN verified_at timestamptz;

-- Each person's own IANA time zone (NULL: the server's), so a clinic's
-- patients in other zones get their own "today".
ALTER TABLE profiles ADD COLUMN time_zone text;

CREATE TABLE clinics (
    id          uuid    NOT NULL PRIMARY KEY,
    name        text    NOT NULL CHECK (name <> ''),
    time_zone   text    NOT NULL,
    ladder      jsonb   NOT NULL,  -- the escalation ladder
    created_at  timestamptz NOT NULL
);

CREATE TABLE clinic_members (
    clinic_id    uuid    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    account_id   uuid    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role         text    NOT NULL CHECK (role IN ('clinician', 'staff')),
    display_name text    NOT NULL,
    joined_at    timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, account_id)
);
CREATE INDEX clinic_members_account ON clinic_members (account_id);

-- Single-use invitations; only the code's SHA-256 is kept.
CREATE TABLE clinic_invites (
    clinic_id   uuid    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    code_hash   text    NOT NULL UNIQUE,
    label       text    NOT NULL DEFAULT '',
    created_by  uuid    NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_by     uuid    REFERENCES profiles (id) ON DELETE SET NULL,
    used_at     timestamptz,
    PRIMARY KEY (clinic_id, code_hash)
);

-- A profile is a clinic's patient while this row exists.
CREATE TABLE clinic_patients (
    clinic_id   uuid    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    profile_id  uuid    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    joined_at   timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, profile_id)
);
CREATE INDEX clinic_patients_profile ON clinic_patients (profile_id);

-- The scopes a patient grants a clinic; a revoked scope's row is deleted.
CREATE TABLE consents (
    clinic_id   uuid    NOT NULL,
    profile_id  uuid    NOT NULL,
    scope       text    NOT NULL CHECK (scope IN ('screening', 'sessions', 'checkins', 'photos_clinical', 'photos_teaching')),
    granted_at  timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, profile_id, scope),
    FOREIGN KEY (clinic_id, profile_id) REFERENCES clinic_patients (clinic_id, profile_id) ON DELETE CASCADE
);

-- Prescribed protocols; the newest per patient and clinic is in force.
CREATE TABLE protocols (
    clinic_id      uuid    NOT NULL,
    profile_id     uuid    NOT NULL,
    id             uuid    NOT NULL,
    prescribed_by  uuid    NOT NULL,
    prescribed_at  timestamptz NOT NULL,
    body           jsonb   NOT NULL,  -- the protocol
    PRIMARY KEY (clinic_id, profile_id, id),
    FOREIGN KEY (clinic_id, profile_id) REFERENCES clinic_patients (clinic_id, profile_id) ON DELETE CASCADE
);
CREATE INDEX protocols_newest ON protocols (profile_id, prescribed_at DESC, id DESC);

CREATE TABLE rule_overrides (
    clinic_id   uuid    NOT NULL,
    profile_id  uuid    NOT NULL,
    id          uuid    NOT NULL,
    rule_id     text    NOT NULL,
    by_account  uuid    NOT NULL,
    by_name     text    NOT NULL,
    at          timestamptz NOT NULL,
    reason      text    NOT NULL CHECK (reason <> ''),
    revoked_at  timestamptz,
    PRIMARY KEY (clinic_id, profile_id, id),
    FOREIGN KEY (clinic_id, profile_id) REFERENCES clinic_patients (clinic_id, profile_id) ON DELETE CASCADE
);
CREATE INDEX rule_overrides_profile ON rule_overrides (profile_id) WHERE revoked_at IS NULL;

CREATE TABLE red_flag_acks (
    clinic_id   uuid    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    profile_id  uuid    NOT NULL,
    episode_id  uuid    NOT NULL,
    by_account  uuid    NOT NULL,
    by_name     text    NOT NULL,
    at          timestamptz NOT NULL,
    note        text    NOT NULL DEFAULT '',
    PRIMARY KEY (clinic_id, profile_id, episode_id),
    FOREIGN KEY (profile_id, episode_id) REFERENCES episodes (profile_id, id) ON DELETE CASCADE
);

-- Which escalation steps went out: the primary key makes each go once,
-- whichever instance claims it.
CREATE TABLE escalations (
    clinic_id   uuid    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    profile_id  uuid    NOT NULL,
    episode_id  uuid    NOT NULL,
    step        integer NOT NULL CHECK (step >= 0),
    at          timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, profile_id, episode_id, step),
    FOREIGN KEY (profile_id, episode_id) REFERENCES episodes (profile_id, id) ON DELETE CASCADE
);

CREATE TABLE notifications (
    account_id  uuid    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    id          uuid    NOT NULL,
    clinic_id   uuid    REFERENCES clinics (id) ON DELETE CASCADE,
    profile_id  uuid    REFERENCES profiles (id) ON DELETE CASCADE,
    kind        text    NOT NULL,
    title       text    NOT NULL,
    body        text    NOT NULL,
    link        text    NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    read_at     timestamptz,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX notifications_newest ON notifications (account_id, created_at DESC, id DESC);

-- The patient's audit log: who at which clinic read or changed what.
-- No foreign key on profile_id: a clinic's list view writes a line per
-- patient, and checking each against profiles (a row lock apiece) cost
-- more than the rest of the view. The store deletes a profile's lines
-- itself, in the transaction that deletes the profile or its account.
CREATE TABLE audit_log (
    profile_id  uuid    NOT NULL,
    id          uuid    NOT NULL,
    clinic_id   uuid    NOT NULL,
    actor       uuid    NOT NULL,
    actor_name  text    NOT NULL,
    action      text    NOT NULL,
    detail      text    NOT NULL DEFAULT '',
    at          timestamptz NOT NULL,
    PRIMARY KEY (profile_id, id)
);
CREATE INDEX audit_log_newest ON audit_log (profile_id, at DESC, id DESC);

-- Emails to send; claimed with a lease so one instance sends each.
CREATE TABLE email_outbox (
    id            uuid    NOT NULL PRIMARY KEY,
    recipient     text    NOT NULL,
    subject       text    NOT NULL,
    body          text    NOT NULL,
    created_at    timestamptz NOT NULL,
    sent_at       timestamptz,
    attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    leased_until  timestamptz,
    last_error    text    NOT NULL DEFAULT ''
);
CREATE INDEX email_outbox_pending ON email_outbox (created_at) WHERE sent_at IS NULL;

CREATE TABLE totp_secrets (
    account_id  uuid    NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    secret      text    NOT NULL,  -- lower-case hex of the raw secret
    enabled_at  timestamptz,
    last_step   bigint NOT NULL DEFAULT 0
);

-- Shared counters for rate limits (log-in attempts), one row per key and
-- window, so several instances count together.
CREATE TABLE rate_limits (
    key          text    NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL CHECK (hits >= 0),
    PRIMARY KEY (key, window_start)
);
