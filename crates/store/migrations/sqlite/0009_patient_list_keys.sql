-- needlewise schema, version 9: a page of a clinic's patient list is an
-- index range. The list is ordered by the patient's name with its ASCII
-- letters lowered, then the profile id, and it counts (and can show only)
-- the patients with an open red flag. Both came from the profile, so
-- every page sorted and scanned all of the clinic's patients: its cost
-- grew with the clinic. The clinic link now keeps the name key and
-- whether the patient has an open red flag, indexed by clinic.
--
-- Derived data, as in migration 6: triggers keep it in the same
-- transaction as the write that changes the profile or adds the link, so
-- restores and `migrate-store` keep it right too. Snapshots do not carry
-- it.
ALTER TABLE clinic_patients ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
ALTER TABLE clinic_patients ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0 CHECK (flagged IN (0, 1));

UPDATE clinic_patients SET (name_key, flagged) =
    (SELECT lower(p.name), p.open_episodes > 0 FROM profiles p
     WHERE p.id = clinic_patients.profile_id);

CREATE INDEX clinic_patients_by_name ON clinic_patients (clinic_id, name_key, profile_id);
CREATE INDEX clinic_patients_flagged ON clinic_patients (clinic_id, name_key, profile_id)
    WHERE flagged;

CREATE TRIGGER clinic_patients_list_keys AFTER INSERT ON clinic_patients BEGIN
    UPDATE clinic_patients SET (name_key, flagged) =
        (SELECT lower(p.name), p.open_episodes > 0 FROM profiles p WHERE p.id = NEW.profile_id)
    WHERE clinic_id = NEW.clinic_id AND profile_id = NEW.profile_id;
END;

CREATE TRIGGER profiles_list_keys AFTER UPDATE OF name, open_episodes ON profiles
WHEN OLD.name IS NOT NEW.name OR (OLD.open_episodes > 0) IS NOT (NEW.open_episodes > 0)
BEGIN
    UPDATE clinic_patients SET name_key = lower(NEW.name), flagged = NEW.open_episodes > 0
    WHERE profile_id = NEW.id;
END;
