-- needlewise schema, version 6: the home page's facts about a profile,
-- kept on the profile's row. The home page is the page people open most;
-- reading these from five tables cost five text-key look-ups on every
-- view, about 40 % of its store read.
--
-- Derived data: triggers recompute each column from its table whenever a
-- row of that table is inserted, updated or deleted, in the same
-- transaction, so restores and `migrate-store` keep them right too.
-- Snapshots do not carry them.
ALTER TABLE profiles ADD COLUMN latest_verdict TEXT;
ALTER TABLE profiles ADD COLUMN last_session_date TEXT;
ALTER TABLE profiles ADD COLUMN last_session_needle_mm REAL;
ALTER TABLE profiles ADD COLUMN latest_checkin_level TEXT;
ALTER TABLE profiles ADD COLUMN open_episodes INTEGER NOT NULL DEFAULT 0;

UPDATE profiles SET
    latest_verdict = (SELECT verdict FROM screenings WHERE profile_id = profiles.id
                      ORDER BY taken_at DESC, id DESC LIMIT 1),
    (last_session_date, last_session_needle_mm) =
        (SELECT local_date, needle_length_mm FROM sessions WHERE profile_id = profiles.id
         ORDER BY started_at DESC, id DESC LIMIT 1),
    latest_checkin_level = (SELECT level FROM checkins WHERE profile_id = profiles.id
                            ORDER BY at DESC, id DESC LIMIT 1),
    open_episodes = (SELECT count(*) FROM episodes
                     WHERE profile_id = profiles.id AND resolved_at IS NULL);

-- Screenings: the latest verdict.
CREATE TRIGGER screenings_facts_insert AFTER INSERT ON screenings BEGIN
    UPDATE profiles SET latest_verdict =
        (SELECT verdict FROM screenings WHERE profile_id = NEW.profile_id
         ORDER BY taken_at DESC, id DESC LIMIT 1)
    WHERE id = NEW.profile_id;
END;
CREATE TRIGGER screenings_facts_update AFTER UPDATE ON screenings BEGIN
    UPDATE profiles SET latest_verdict =
        (SELECT verdict FROM screenings WHERE profile_id = profiles.id
         ORDER BY taken_at DESC, id DESC LIMIT 1)
    WHERE id IN (OLD.profile_id, NEW.profile_id);
END;
CREATE TRIGGER screenings_facts_delete AFTER DELETE ON screenings BEGIN
    UPDATE profiles SET latest_verdict =
        (SELECT verdict FROM screenings WHERE profile_id = OLD.profile_id
         ORDER BY taken_at DESC, id DESC LIMIT 1)
    WHERE id = OLD.profile_id;
END;

-- Sessions: the last one's date and needle length.
CREATE TRIGGER sessions_facts_insert AFTER INSERT ON sessions BEGIN
    UPDATE profiles SET (last_session_date, last_session_needle_mm) =
        (SELECT local_date, needle_length_mm FROM sessions WHERE profile_id = NEW.profile_id
         ORDER BY started_at DESC, id DESC LIMIT 1)
    WHERE id = NEW.profile_id;
END;
CREATE TRIGGER sessions_facts_update AFTER UPDATE ON sessions BEGIN
    UPDATE profiles SET (last_session_date, last_session_needle_mm) =
        (SELECT local_date, needle_length_mm FROM sessions WHERE profile_id = profiles.id
         ORDER BY started_at DESC, id DESC LIMIT 1)
    WHERE id IN (OLD.profile_id, NEW.profile_id);
END;
CREATE TRIGGER sessions_facts_delete AFTER DELETE ON sessions BEGIN
    UPDATE profiles SET (last_session_date, last_session_needle_mm) =
        (SELECT local_date, needle_length_mm FROM sessions WHERE profile_id = OLD.profile_id
         ORDER BY started_at DESC, id DESC LIMIT 1)
    WHERE id = OLD.profile_id;
END;

-- Check-ins: the latest one's triage level.
CREATE TRIGGER checkins_facts_insert AFTER INSERT ON checkins BEGIN
    UPDATE profiles SET latest_checkin_level =
        (SELECT level FROM checkins WHERE profile_id = NEW.profile_id
         ORDER BY at DESC, id DESC LIMIT 1)
    WHERE id = NEW.profile_id;
END;
CREATE TRIGGER checkins_facts_update AFTER UPDATE ON checkins BEGIN
    UPDATE profiles SET latest_checkin_level =
        (SELECT level FROM checkins WHERE profile_id = profiles.id
         ORDER BY at DESC, id DESC LIMIT 1)
    WHERE id IN (OLD.profile_id, NEW.profile_id);
END;
CREATE TRIGGER checkins_facts_delete AFTER DELETE ON checkins BEGIN
    UPDATE profiles SET latest_checkin_level =
        (SELECT level FROM checkins WHERE profile_id = OLD.profile_id
         ORDER BY at DESC, id DESC LIMIT 1)
    WHERE id = OLD.profile_id;
END;

-- Red-flag episodes: how many are open (any locks sessions).
CREATE TRIGGER episodes_facts_insert AFTER INSERT ON episodes BEGIN
    UPDATE profiles SET open_episodes =
        (SELECT count(*) FROM episodes WHERE profile_id = NEW.profile_id AND resolved_at IS NULL)
    WHERE id = NEW.profile_id;
END;
CREATE TRIGGER episodes_facts_update AFTER UPDATE ON episodes BEGIN
    UPDATE profiles SET open_episodes =
        (SELECT count(*) FROM episodes WHERE profile_id = profiles.id AND resolved_at IS NULL)
    WHERE id IN (OLD.profile_id, NEW.profile_id);
END;
CREATE TRIGGER episodes_facts_delete AFTER DELETE ON episodes BEGIN
    UPDATE profiles SET open_episodes =
        (SELECT count(*) FROM episodes WHERE profile_id = OLD.profile_id AND resolved_at IS NULL)
    WHERE id = OLD.profile_id;
END;
