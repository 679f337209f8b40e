-- needlewise schema, version 7: readiness checks, where a session was done
-- and which check allowed it, who resolved a red flag; the last session is
-- the one that ended last.
--
-- Screening results keep their column: from this version on the store
-- writes them with a "format" key (a result without one was written
-- before, as format 1).

-- Where a session was done, and the readiness check that allowed a home
-- session. The check is the profile's own (the store checks it when it
-- logs the session; checks are deleted only with their profile).
ALTER TABLE sessions
    ADD COLUMN setting text NOT NULL DEFAULT 'home' CHECK (setting IN ('home', 'clinic')),
    ADD COLUMN readiness_check_id uuid;

-- Every answered readiness check, go or not.
CREATE TABLE readiness_checks (
    profile_id  uuid        NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    device_id   uuid,
    at          timestamptz NOT NULL,
    answers     jsonb       NOT NULL,
    go          boolean     NOT NULL,
    rule_ids    jsonb       NOT NULL,
    PRIMARY KEY (profile_id, id),
    -- Optional reference, not ownership (see sessions.device_id).
    FOREIGN KEY (profile_id, device_id) REFERENCES devices (profile_id, id)
);
CREATE INDEX readiness_checks_newest ON readiness_checks (profile_id, at DESC, id DESC);
-- The newest check for a device at or before a moment: one range read.
CREATE INDEX readiness_checks_device ON readiness_checks (profile_id, device_id, at DESC, id DESC);

-- Who resolved a red flag: the JSON of needlewise_core::records::Resolver
-- (NULL while open, and for those resolved before version 7).
ALTER TABLE episodes ADD COLUMN resolver jsonb;

-- The last session is the one that ended last (then the greatest id):
-- waits count from its end.
CREATE INDEX sessions_last_ended ON sessions (profile_id, ended_at DESC, id DESC);

CREATE OR REPLACE FUNCTION refresh_last_session(ids uuid[]) RETURNS void LANGUAGE sql AS $$
    UPDATE profiles p
    SET (last_session_started, last_session_ended, last_session_date, last_session_needle) = (
        SELECT s.started_at, s.ended_at, s.local_date, s.needle_length_mm FROM sessions s
        WHERE s.profile_id = p.id
        ORDER BY s.ended_at DESC, s.id DESC LIMIT 1)
    WHERE p.id = ANY (ids)
$$;

SELECT refresh_last_session(ARRAY(SELECT id FROM profiles));
SELECT refresh_recent_checkins(ARRAY(SELECT id FROM profiles));
