-- needlewise schema, version 4 (SQLite): joining a clinic's team is an
-- invitation the invited person accepts.
--
-- A clinician invites an email address with a role and a display name.
-- Only the SHA-256 of the random code is kept, as for patient invites.
-- The invitation is used once, before it expires, and only by the account
-- whose email is the invited one (lower-case); accepting it adds the
-- clinic_members row in the same transaction.
--
-- Never edit this file once released: add 0005_*.sql instead.

CREATE TABLE clinic_member_invites (
    clinic_id    TEXT    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    code_hash    TEXT    NOT NULL UNIQUE,
    email        TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('clinician', 'staff')),
    display_name TEXT    NOT NULL,
    created_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_by      TEXT    REFERENCES accounts (id) ON DELETE SET NULL,
    used_at      INTEGER,
    PRIMARY KEY (clinic_id, code_hash)
) STRICT, WITHOUT ROWID;
