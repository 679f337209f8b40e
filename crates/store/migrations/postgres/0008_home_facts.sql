-- needlewise schema, version 8: the profile's facts are the same on both
-- backends (SQLite's migrations 6 and 7), so the store reads them with the
-- same statements: the latest verdict and check-in level join the last
-- session's end, date and needle and the number of open red flags on the
-- profile's row. The facts only the old PostgreSQL patient list read (the
-- last session's start, the recent check-ins, the scopes on the clinic
-- link) go, with the work their triggers did on every write.
--
-- Derived data, kept by triggers in the same transaction as the write that
-- changes it; snapshots and exports do not carry it.

DROP TRIGGER consents_inserted ON consents;
DROP TRIGGER consents_updated ON consents;
DROP TRIGGER consents_deleted ON consents;
DROP FUNCTION consents_changed();
ALTER TABLE clinic_patients DROP COLUMN scopes;

ALTER TABLE profiles RENAME COLUMN last_session_needle TO last_session_needle_mm;
ALTER TABLE profiles
    DROP COLUMN last_session_started,
    DROP COLUMN recent_checkins,
    ADD COLUMN latest_verdict       text,
    ADD COLUMN latest_checkin_level text;

-- The last session is the one that ended last (then the greatest id).
CREATE OR REPLACE FUNCTION refresh_last_session(ids uuid[]) RETURNS void LANGUAGE sql AS $$
    UPDATE profiles p
    SET (last_session_ended, last_session_date, last_session_needle_mm) = (
        SELECT s.ended_at, s.local_date, s.needle_length_mm FROM sessions s
        WHERE s.profile_id = p.id
        ORDER BY s.ended_at DESC, s.id DESC LIMIT 1)
    WHERE p.id = ANY (ids)
$$;

CREATE OR REPLACE FUNCTION sessions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM refresh_last_session(ARRAY(
            SELECT profile_id FROM changed UNION SELECT profile_id FROM changed_new));
    ELSE
        PERFORM refresh_last_session(ARRAY(SELECT DISTINCT profile_id FROM changed));
    END IF;
    RETURN NULL;
END
$$;

DROP FUNCTION refresh_recent_checkins(uuid[]);

-- The level of each profile's newest check-in (by time, then id).
CREATE FUNCTION refresh_latest_checkin(ids uuid[]) RETURNS void LANGUAGE sql AS $$
    UPDATE profiles p
    SET latest_checkin_level = (
        SELECT ck.level FROM checkins ck WHERE ck.profile_id = p.id
        ORDER BY ck.at DESC, ck.id DESC LIMIT 1)
    WHERE p.id = ANY (ids)
$$;

CREATE OR REPLACE FUNCTION checkins_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM refresh_latest_checkin(ARRAY(
            SELECT profile_id FROM changed UNION SELECT profile_id FROM changed_new));
    ELSE
        PERFORM refresh_latest_checkin(ARRAY(SELECT DISTINCT profile_id FROM changed));
    END IF;
    RETURN NULL;
END
$$;

-- The verdict of each profile's newest screening (by time, then id).
CREATE FUNCTION refresh_latest_verdict(ids uuid[]) RETURNS void LANGUAGE sql AS $$
    UPDATE profiles p
    SET latest_verdict = (
        SELECT sc.verdict FROM screenings sc WHERE sc.profile_id = p.id
        ORDER BY sc.taken_at DESC, sc.id DESC LIMIT 1)
    WHERE p.id = ANY (ids)
$$;

CREATE FUNCTION screenings_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM refresh_latest_verdict(ARRAY(
            SELECT profile_id FROM changed UNION SELECT profile_id FROM changed_new));
    ELSE
        PERFORM refresh_latest_verdict(ARRAY(SELECT DISTINCT profile_id FROM changed));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER screenings_inserted AFTER INSERT ON screenings
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION screenings_changed();
CREATE TRIGGER screenings_updated AFTER UPDATE ON screenings
    REFERENCING OLD TABLE AS changed NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION screenings_changed();
CREATE TRIGGER screenings_deleted AFTER DELETE ON screenings
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION screenings_changed();

-- What is already there.
SELECT refresh_latest_verdict(ARRAY(SELECT id FROM profiles));
SELECT refresh_latest_checkin(ARRAY(SELECT id FROM profiles));
