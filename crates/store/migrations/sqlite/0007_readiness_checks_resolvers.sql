-- needlewise schema, version 7: readiness checks, where a session was done
-- and which check allowed it, who resolved a red flag, and the end of the
-- last session among the home page's facts.
--
-- Structured values are JSON TEXT, as in version 1. Screening results keep
-- their column: from this version on the store writes them with a
-- "format" key (a result without one was written before, as format 1).

-- Where a session was done, and the readiness check that allowed a home
-- session. The check is the profile's own (the store checks it when it
-- logs the session; checks are deleted only with their profile).
ALTER TABLE sessions ADD COLUMN setting TEXT NOT NULL DEFAULT 'home'
    CHECK (setting IN ('home', 'clinic'));
ALTER TABLE sessions ADD COLUMN readiness_check_id TEXT;

-- Every answered readiness check, go or not. Rows hold JSON answers, so
-- the table keeps its rowid (as screenings and check-ins do).
CREATE TABLE readiness_checks (
    profile_id  TEXT    NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id          TEXT    NOT NULL,
    device_id   TEXT,
    at          INTEGER NOT NULL,
    answers     TEXT    NOT NULL,
    go          INTEGER NOT NULL CHECK (go IN (0, 1)),
    rule_ids    TEXT    NOT NULL,
    PRIMARY KEY (profile_id, id),
    -- Optional reference, not ownership (see sessions.device_id).
    FOREIGN KEY (profile_id, device_id) REFERENCES devices (profile_id, id)
) STRICT;
CREATE INDEX readiness_checks_newest ON readiness_checks (profile_id, at DESC, id DESC);
-- The newest check for a device at or before a moment: one range read.
CREATE INDEX readiness_checks_device ON readiness_checks (profile_id, device_id, at DESC, id DESC);

-- Who resolved a red flag: the JSON of needlewise_core::records::Resolver
-- (NULL while open, and for those resolved before version 7).
ALTER TABLE episodes ADD COLUMN resolver TEXT;

-- The home page's last session is the one that ended last (then the
-- greatest id): waits count from its end. Its end joins its date and
-- needle on the profile's row.
ALTER TABLE profiles ADD COLUMN last_session_ended INTEGER;
CREATE INDEX sessions_last_ended ON sessions (profile_id, ended_at DESC, id DESC);

UPDATE profiles SET (last_session_date, last_session_needle_mm, last_session_ended) =
    (SELECT local_date, needle_length_mm, ended_at FROM sessions WHERE profile_id = profiles.id
     ORDER BY ended_at DESC, id DESC LIMIT 1);

DROP TRIGGER sessions_facts_insert;
DROP TRIGGER sessions_facts_update;
DROP TRIGGER sessions_facts_delete;

CREATE TRIGGER sessions_facts_insert AFTER INSERT ON sessions BEGIN
    UPDATE profiles SET (last_session_date, last_session_needle_mm, last_session_ended) =
        (SELECT local_date, needle_length_mm, ended_at FROM sessions WHERE profile_id = NEW.profile_id
         ORDER BY ended_at DESC, id DESC LIMIT 1)
    WHERE id = NEW.profile_id;
END;
CREATE TRIGGER sessions_facts_update AFTER UPDATE ON sessions BEGIN
    UPDATE profiles SET (last_session_date, last_session_needle_mm, last_session_ended) =
        (SELECT local_date, needle_length_mm, ended_at FROM sessions WHERE profile_id = profiles.id
         ORDER BY ended_at DESC, id DESC LIMIT 1)
    WHERE id IN (OLD.profile_id, NEW.profile_id);
END;
CREATE TRIGGER sessions_facts_delete AFTER DELETE ON sessions BEGIN
    UPDATE profiles SET (last_session_date, last_session_needle_mm, last_session_ended) =
        (SELECT local_date, needle_length_mm, ended_at FROM sessions WHERE profile_id = OLD.profile_id
         ORDER BY ended_at DESC, id DESC LIMIT 1)
    WHERE id = OLD.profile_id;
END;
