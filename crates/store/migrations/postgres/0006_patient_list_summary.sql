-- needlewise schema, version 6: what a clinic's patient list reads for each
-- patient, kept up to date on write.
--
-- The list shows, per patient, the latest session, how many red flags are
-- open, the check-ins around the last session (to count the overdue ones)
-- and which scopes the patient shares. Reading those meant probing
-- sessions, episodes, check-ins and consents once per patient: most of the
-- list's cost. Triggers now keep them beside the profile and the clinic link, so
-- every write (the store's own, a restore, migrate-store) keeps them right
-- in the same transaction, and the list reads one row per patient. They are
-- derived: snapshots and exports do not carry them.

ALTER TABLE profiles
    ADD COLUMN last_session_started timestamptz,
    ADD COLUMN last_session_ended   timestamptz,
    ADD COLUMN last_session_date    date,
    ADD COLUMN last_session_needle  double precision,
    ADD COLUMN open_episodes        integer NOT NULL DEFAULT 0,
    ADD COLUMN recent_checkins      timestamptz[] NOT NULL DEFAULT '{}';

ALTER TABLE clinic_patients ADD COLUMN scopes text[] NOT NULL DEFAULT '{}';

-- The newest session (by start, then id) of each profile in `ids`, or none.
CREATE FUNCTION refresh_last_session(ids uuid[]) RETURNS void LANGUAGE sql AS $$
    UPDATE profiles p
    SET (last_session_started, last_session_ended, last_session_date, last_session_needle) = (
        SELECT s.started_at, s.ended_at, s.local_date, s.needle_length_mm FROM sessions s
        WHERE s.profile_id = p.id
        ORDER BY s.started_at DESC, s.id DESC LIMIT 1)
    WHERE p.id = ANY (ids)
$$;

-- The check-ins of each profile in `ids` from a week before its last
-- session's end on, oldest first (none without a session). The list needs
-- those from at most two days before; a test of the store holds the code
-- to that week.
CREATE FUNCTION refresh_recent_checkins(ids uuid[]) RETURNS void LANGUAGE sql AS $$
    UPDATE profiles p
    SET recent_checkins = ARRAY(
        SELECT ck.at FROM checkins ck
        WHERE ck.profile_id = p.id AND ck.at >= p.last_session_ended - interval '7 days'
        ORDER BY ck.at)
    WHERE p.id = ANY (ids)
$$;

-- How many episodes of each profile in `ids` are unresolved.
CREATE FUNCTION refresh_open_episodes(ids uuid[]) RETURNS void LANGUAGE sql AS $$
    UPDATE profiles p
    SET open_episodes = (
        SELECT count(*) FROM episodes e WHERE e.profile_id = p.id AND e.resolved_at IS NULL)
    WHERE p.id = ANY (ids)
$$;

-- Statement-level triggers: one refresh per statement for the profiles it
-- touched (`changed`, and for updates also `changed_new`). A profile being
-- deleted with its rows is no longer visible to the refresh, which then
-- updates nothing.
CREATE FUNCTION sessions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        ids := ARRAY(SELECT profile_id FROM changed UNION SELECT profile_id FROM changed_new);
    ELSE
        ids := ARRAY(SELECT DISTINCT profile_id FROM changed);
    END IF;
    -- The check-ins are read from the new last session: after it.
    PERFORM refresh_last_session(ids);
    PERFORM refresh_recent_checkins(ids);
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_inserted AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION sessions_changed();
CREATE TRIGGER sessions_updated AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS changed NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION sessions_changed();
CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION sessions_changed();

CREATE FUNCTION episodes_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM refresh_open_episodes(ARRAY(
            SELECT profile_id FROM changed UNION SELECT profile_id FROM changed_new));
    ELSE
        PERFORM refresh_open_episodes(ARRAY(SELECT DISTINCT profile_id FROM changed));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER episodes_inserted AFTER INSERT ON episodes
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION episodes_changed();
CREATE TRIGGER episodes_updated AFTER UPDATE ON episodes
    REFERENCING OLD TABLE AS changed NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION episodes_changed();
CREATE TRIGGER episodes_deleted AFTER DELETE ON episodes
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION episodes_changed();

CREATE FUNCTION checkins_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM refresh_recent_checkins(ARRAY(
            SELECT profile_id FROM changed UNION SELECT profile_id FROM changed_new));
    ELSE
        PERFORM refresh_recent_checkins(ARRAY(SELECT DISTINCT profile_id FROM changed));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER checkins_inserted AFTER INSERT ON checkins
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION checkins_changed();
CREATE TRIGGER checkins_updated AFTER UPDATE ON checkins
    REFERENCING OLD TABLE AS changed NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION checkins_changed();
CREATE TRIGGER checkins_deleted AFTER DELETE ON checkins
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION checkins_changed();

-- The scopes a patient grants, in order, on the clinic link.
CREATE FUNCTION consents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        UPDATE clinic_patients cp
        SET scopes = ARRAY(
            SELECT co.scope FROM consents co
            WHERE co.clinic_id = cp.clinic_id AND co.profile_id = cp.profile_id
            ORDER BY co.scope)
        WHERE (cp.clinic_id, cp.profile_id) IN (
            SELECT clinic_id, profile_id FROM changed
            UNION SELECT clinic_id, profile_id FROM changed_new);
    ELSE
        UPDATE clinic_patients cp
        SET scopes = ARRAY(
            SELECT co.scope FROM consents co
            WHERE co.clinic_id = cp.clinic_id AND co.profile_id = cp.profile_id
            ORDER BY co.scope)
        WHERE (cp.clinic_id, cp.profile_id) IN (SELECT clinic_id, profile_id FROM changed);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER consents_inserted AFTER INSERT ON consents
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION consents_changed();
CREATE TRIGGER consents_updated AFTER UPDATE ON consents
    REFERENCING OLD TABLE AS changed NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION consents_changed();
CREATE TRIGGER consents_deleted AFTER DELETE ON consents
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION consents_changed();

-- What is already there.
SELECT refresh_last_session(ARRAY(SELECT id FROM profiles));
SELECT refresh_recent_checkins(ARRAY(SELECT id FROM profiles));
SELECT refresh_open_episodes(ARRAY(SELECT id FROM profiles));
UPDATE clinic_patients cp
SET scopes = ARRAY(
    SELECT co.scope FROM consents co
    WHERE co.clinic_id = cp.clinic_id AND co.profile_id = cp.profile_id
    ORDER BY co.scope);

-- A clinician's list views in a window, in one index range: whether a view
-- must be logged is then one range read, not one probe per patient.
CREATE INDEX audit_log_list_views ON audit_log (clinic_id, actor, detail, at)
    WHERE action = 'viewed_list';
