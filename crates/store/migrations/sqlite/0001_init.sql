-- needlewise schema, version 1 (SQLite).
--
-- Ids are UUIDs made by the application, stored as lowercase hyphenated
-- TEXT. Every table of profile data carries the owning profile_id in its
-- primary key (accounts and web_sessions are not profile data).
-- Timestamps are INTEGER unix microseconds (UTC); civil dates are TEXT
-- 'YYYY-MM-DD'; structured values are JSON TEXT.
--
-- Tables with small rows are WITHOUT ROWID: the primary key is the table,
-- so a write touches one b-tree instead of two (fewer pages per durable
-- commit). Screenings and check-ins keep their rowid: their JSON answers
-- make rows large.
--
-- Never edit this file once released: add 0002_*.sql instead. The store
-- refuses to open a database whose applied migrations differ from these.

-- Logins. Emails are stored lower-cased. The local account (the nil UUID)
-- owns the command line's profiles: it has no email and no password, so it
-- cannot log in, and the store refuses to delete it.
CREATE TABLE accounts (
    id            TEXT    NOT NULL PRIMARY KEY,
    email         TEXT    UNIQUE,
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    CHECK ((email IS NULL) = (password_hash IS NULL))
) STRICT, WITHOUT ROWID;
INSERT INTO accounts (id, email, password_hash, created_at)
VALUES ('00000000-0000-0000-0000-000000000000', NULL, NULL, CAST(strftime('%s', 'now') AS INTEGER) * 1000000);

-- Profile names are unique within an account.
CREATE TABLE profiles (
    id          TEXT    NOT NULL PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (account_id, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX profiles_oldest ON profiles (account_id, created_at, id);

-- Logged-in browsers, keyed by the SHA-256 of the cookie token. Not profile
-- data: a session belongs to an account and points at the profile it works
-- in (cleared when that profile is deleted). The store checks that the
-- profile is the account's own.
CREATE TABLE web_sessions (
    token_hash  TEXT    NOT NULL PRIMARY KEY,
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf_token  TEXT    NOT NULL,
    profile_id  TEXT    REFERENCES profiles (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
CREATE INDEX web_sessions_account ON web_sessions (account_id);
-- So deleting a profile finds its sessions without a scan.
CREATE INDEX web_sessions_profile ON web_sessions (profile_id);

-- Calendar subscriptions: one secret link per profile. The link's token is
-- shown once; only its SHA-256 hash is kept. Setting a new one replaces the
-- old (the old link stops working); deleting the profile deletes it.
CREATE TABLE calendar_tokens (
    profile_id  TEXT    NOT NULL PRIMARY KEY REFERENCES profiles (id) ON DELETE CASCADE,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE screenings (
    profile_id  TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id          TEXT    NOT NULL,
    taken_at    INTEGER NOT NULL,
    verdict     TEXT    NOT NULL,
    answers     TEXT    NOT NULL,
    result      TEXT    NOT NULL,
    PRIMARY KEY (profile_id, id)
) STRICT;
CREATE INDEX screenings_newest ON screenings (profile_id, taken_at DESC, id DESC);

CREATE TABLE devices (
    profile_id  TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id          TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    use_count   INTEGER NOT NULL CHECK (use_count >= 0),
    damaged     INTEGER NOT NULL CHECK (damaged IN (0, 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 0),
    PRIMARY KEY (profile_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX devices_oldest ON devices (profile_id, created_at, id);

-- seq is the device's version after the event: unique per device and in
-- the order the events happened.
CREATE TABLE hygiene_events (
    profile_id  TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    device_id   TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    event       TEXT    NOT NULL,
    state_after TEXT    NOT NULL,
    PRIMARY KEY (profile_id, device_id, seq),
    FOREIGN KEY (profile_id, device_id) REFERENCES devices (profile_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE sessions (
    profile_id       TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id               TEXT    NOT NULL,
    device_id        TEXT,
    started_at       INTEGER NOT NULL,
    ended_at         INTEGER NOT NULL,
    local_date       TEXT    NOT NULL,
    needle_length_mm REAL    NOT NULL,
    notes            TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (profile_id, id),
    -- Optional reference, not ownership: a device is never deleted on its
    -- own, only with its profile.
    FOREIGN KEY (profile_id, device_id) REFERENCES devices (profile_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_newest ON sessions (profile_id, started_at DESC, id DESC);

CREATE TABLE session_zones (
    profile_id  TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    session_id  TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    zone        TEXT    NOT NULL,
    seconds     INTEGER NOT NULL CHECK (seconds >= 0),
    strokes     INTEGER CHECK (strokes >= 0),
    skipped     INTEGER NOT NULL CHECK (skipped IN (0, 1)),
    PRIMARY KEY (profile_id, session_id, position),
    FOREIGN KEY (profile_id, session_id) REFERENCES sessions (profile_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE session_products (
    profile_id  TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    session_id  TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    applied_at  INTEGER NOT NULL,
    allowed     INTEGER NOT NULL CHECK (allowed IN (0, 1)),
    PRIMARY KEY (profile_id, session_id, position),
    FOREIGN KEY (profile_id, session_id) REFERENCES sessions (profile_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE checkins (
    profile_id  TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id          TEXT    NOT NULL,
    session_id  TEXT,
    at          INTEGER NOT NULL,
    answers     TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    rule_ids    TEXT    NOT NULL,
    PRIMARY KEY (profile_id, id),
    -- Optional reference, not ownership (see sessions.device_id).
    FOREIGN KEY (profile_id, session_id) REFERENCES sessions (profile_id, id)
) STRICT;
CREATE INDEX checkins_newest ON checkins (profile_id, at DESC, id DESC);

CREATE TABLE episodes (
    profile_id  TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id          TEXT    NOT NULL,
    checkin_id  TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    opened_at   INTEGER NOT NULL,
    resolved_at INTEGER,
    resolution  TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (profile_id, id),
    FOREIGN KEY (profile_id, checkin_id) REFERENCES checkins (profile_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX episodes_newest ON episodes (profile_id, opened_at DESC, id DESC);
CREATE INDEX episodes_open ON episodes (profile_id, opened_at DESC, id DESC) WHERE resolved_at IS NULL;

-- Self-ratings of skin concerns (progress). Self-reported, 0 to 4.
CREATE TABLE ratings (
    profile_id  TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id          TEXT    NOT NULL,
    zone        TEXT    NOT NULL,
    concern     TEXT    NOT NULL,
    score       INTEGER NOT NULL CHECK (score BETWEEN 0 AND 4),
    rated_at    INTEGER NOT NULL,
    note        TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (profile_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX ratings_oldest ON ratings (profile_id, rated_at, id);

-- Progress photos: metadata only; the re-encoded files live on disk.
CREATE TABLE photos (
    profile_id   TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id           TEXT    NOT NULL,
    taken_at     INTEGER NOT NULL,
    zone         TEXT,
    width        INTEGER NOT NULL CHECK (width > 0),
    height       INTEGER NOT NULL CHECK (height > 0),
    bytes        INTEGER NOT NULL CHECK (bytes >= 0),
    sha256       TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    stored_name  TEXT    NOT NULL,
    PRIMARY KEY (profile_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX photos_oldest ON photos (profile_id, taken_at, id);
