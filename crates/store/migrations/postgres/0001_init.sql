-- needlewise schema, version 1 (PostgreSQL).
--
-- Ids are UUIDs made by the application. Every table of profile data
-- carries the owning profile_id in its primary key, so the schema can be
-- sharded by profile on a distributed PostgreSQL (accounts and web_sessions
-- are not profile data: small tables keyed by account and token). Timestamps are timestamptz (microseconds);
-- civil dates are date; structured values are jsonb.
--
-- Never edit this file once released: add 0002_*.sql instead. The store
-- refuses to start on a database whose applied migrations differ from these.

-- Logins. Emails are stored lower-cased. The local account (the nil UUID)
-- owns the command line's profiles: it has no email and no password, so it
-- cannot log in, and the store refuses to delete it.
CREATE TABLE accounts (
    id            uuid        NOT NULL PRIMARY KEY,
    email         text        UNIQUE,
    password_hash text,
    created_at    timestamptz NOT NULL,
    CHECK ((email IS NULL) = (password_hash IS NULL))
);
INSERT INTO accounts (id, email, password_hash, created_at)
VALUES ('00000000-0000-0000-0000-000000000000', NULL, NULL, date_trunc('second', now()));

-- Profile names are unique within an account.
CREATE TABLE profiles (
    id          uuid        NOT NULL PRIMARY KEY,
    account_id  uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL,
    UNIQUE (account_id, name)
);
CREATE INDEX profiles_oldest ON profiles (account_id, created_at, id);

-- Logged-in browsers, keyed by the SHA-256 of the cookie token. Not profile
-- data: a session belongs to an account and points at the profile it works
-- in (cleared when that profile is deleted). The store checks that the
-- profile is the account's own.
CREATE TABLE web_sessions (
    token_hash  text        NOT NULL PRIMARY KEY,
    account_id  uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf_token  text        NOT NULL,
    profile_id  uuid        REFERENCES profiles (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
CREATE INDEX web_sessions_account ON web_sessions (account_id);
-- So deleting a profile finds its sessions without a scan.
CREATE INDEX web_sessions_profile ON web_sessions (profile_id);

-- Calendar subscriptions: one secret link per profile. The link's token is
-- shown once; only its SHA-256 hash is kept. Setting a new one replaces the
-- old (the old link stops working); deleting the profile deletes it.
CREATE TABLE calendar_tokens (
    profile_id  uuid        NOT NULL PRIMARY KEY REFERENCES profiles (id) ON DELETE CASCADE,
    token_hash  text        NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL
);

CREATE TABLE screenings (
    profile_id  uuid        NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    taken_at    timestamptz NOT NULL,
    verdict     text        NOT NULL,
    answers     jsonb       NOT NULL,
    result      jsonb       NOT NULL,
    PRIMARY KEY (profile_id, id)
);
CREATE INDEX screenings_newest ON screenings (profile_id, taken_at DESC, id DESC);

CREATE TABLE devices (
    profile_id  uuid        NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    name        text        NOT NULL,
    kind        jsonb       NOT NULL,
    state       jsonb       NOT NULL,
    use_count   bigint      NOT NULL CHECK (use_count >= 0),
    damaged     boolean     NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    version     bigint      NOT NULL CHECK (version >= 0),
    PRIMARY KEY (profile_id, id)
);
CREATE INDEX devices_oldest ON devices (profile_id, created_at, id);

-- seq is the device's version after the event: unique per device and in
-- the order the events happened.
CREATE TABLE hygiene_events (
    profile_id  uuid        NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    device_id   uuid        NOT NULL,
    seq         bigint      NOT NULL,
    at          timestamptz NOT NULL,
    event       jsonb       NOT NULL,
    state_after text        NOT NULL,
    PRIMARY KEY (profile_id, device_id, seq),
    FOREIGN KEY (profile_id, device_id) REFERENCES devices (profile_id, id) ON DELETE CASCADE
);

CREATE TABLE sessions (
    profile_id       uuid             NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id               uuid             NOT NULL,
    device_id        uuid,
    started_at       timestamptz      NOT NULL,
    ended_at         timestamptz      NOT NULL,
    local_date       date             NOT NULL,
    needle_length_mm double precision NOT NULL,
    notes            text             NOT NULL DEFAULT '',
    PRIMARY KEY (profile_id, id),
    -- Optional reference, not ownership: a device is never deleted on its
    -- own, only with its profile.
    FOREIGN KEY (profile_id, device_id) REFERENCES devices (profile_id, id)
);
CREATE INDEX sessions_newest ON sessions (profile_id, started_at DESC, id DESC);

CREATE TABLE session_zones (
    profile_id  uuid    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    session_id  uuid    NOT NULL,
    position    integer NOT NULL,
    zone        text    NOT NULL,
    seconds     bigint  NOT NULL CHECK (seconds >= 0),
    strokes     bigint  CHECK (strokes >= 0),
    skipped     boolean NOT NULL,
    PRIMARY KEY (profile_id, session_id, position),
    FOREIGN KEY (profile_id, session_id) REFERENCES sessions (profile_id, id) ON DELETE CASCADE
);

CREATE TABLE session_products (
    profile_id  uuid        NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    session_id  uuid        NOT NULL,
    position    integer     NOT NULL,
    name        text        NOT NULL,
    category    text        NOT NULL,
    applied_at  timestamptz NOT NULL,
    allowed     boolean     NOT NULL,
    PRIMARY KEY (profile_id, session_id, position),
    FOREIGN KEY (profile_id, session_id) REFERENCES sessions (profile_id, id) ON DELETE CASCADE
);

CREATE TABLE checkins (
    profile_id  uuid        NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    session_id  uuid,
    at          timestamptz NOT NULL,
    answers     jsonb       NOT NULL,
    level       text        NOT NULL,
    rule_ids    jsonb       NOT NULL,
    PRIMARY KEY (profile_id, id),
    -- Optional reference, not ownership (see sessions.device_id).
    FOREIGN KEY (profile_id, session_id) REFERENCES sessions (profile_id, id)
);
CREATE INDEX checkins_newest ON checkins (profile_id, at DESC, id DESC);

CREATE TABLE episodes (
    profile_id  uuid        NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    checkin_id  uuid        NOT NULL,
    level       text        NOT NULL,
    opened_at   timestamptz NOT NULL,
    resolved_at timestamptz,
    resolution  text        NOT NULL DEFAULT '',
    PRIMARY KEY (profile_id, id),
    FOREIGN KEY (profile_id, checkin_id) REFERENCES checkins (profile_id, id) ON DELETE CASCADE
);
CREATE INDEX episodes_newest ON episodes (profile_id, opened_at DESC, id DESC);
CREATE INDEX episodes_open ON episodes (profile_id, opened_at DESC, id DESC) WHERE resolved_at IS NULL;

-- Self-ratings of skin concerns (progress). Self-reported, 0 to 4.
CREATE TABLE ratings (
    profile_id  uuid        NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    zone        text        NOT NULL,
    concern     text        NOT NULL,
    score       smallint    NOT NULL CHECK (score BETWEEN 0 AND 4),
    rated_at    timestamptz NOT NULL,
    note        text        NOT NULL DEFAULT '',
    PRIMARY KEY (profile_id, id)
);
CREATE INDEX ratings_oldest ON ratings (profile_id, rated_at, id);

-- Progress photos: metadata only; the re-encoded files live on disk.
CREATE TABLE photos (
    profile_id   uuid        NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id           uuid        NOT NULL,
    taken_at     timestamptz NOT NULL,
    zone         text,
    width        integer     NOT NULL CHECK (width > 0),
    height       integer     NOT NULL CHECK (height > 0),
    bytes        bigint      NOT NULL CHECK (bytes >= 0),
    sha256       text        NOT NULL,
    content_type text        NOT NULL,
    stored_name  text        NOT NULL,
    PRIMARY KEY (profile_id, id)
);
CREATE INDEX photos_oldest ON photos (profile_id, taken_at, id);
