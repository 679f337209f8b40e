-- needlewise schema, version 4 (PostgreSQL): joining a clinic's team is an
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
    clinic_id    uuid    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    code_hash    text    NOT NULL UNIQUE,
    email        text    NOT NULL,
    role         text    NOT NULL CHECK (role IN ('clinician', 'staff')),
    display_name text    NOT NULL,
    created_by   uuid    NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_by      uuid    REFERENCES accounts (id) ON DELETE SET NULL,
    used_at      timestamptz,
    PRIMARY KEY (clinic_id, code_hash)
);
