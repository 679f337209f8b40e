-- needlewise schema, version 3 (SQLite): a pending second factor belongs
-- to the web session that started it.
--
-- While a TOTP secret is being enrolled (enabled_at NULL), pending_session
-- holds the SHA-256 token hash of the web session it was shown to. Only
-- that session sees the secret again or may confirm it with a code; any
-- other session starting enrolment gets a fresh secret instead. NULL once
-- the secret is confirmed, and for pending secrets from before version 3
-- (which no session may then confirm: the next visit makes a new one).
-- No foreign key: a session that ends simply leaves the secret unclaimed.
--
-- Never edit this file once released: add 0004_*.sql instead.

ALTER TABLE totp_secrets ADD COLUMN pending_session TEXT;
