-- needlewise schema, version 9: a page of a clinic's patient list is an
-- index range. The list is ordered by the patient's name with its ASCII
-- letters lowered (byte by byte, the "C" collation), then the profile id,
-- and it counts (and can show only) the patients with an open red flag.
-- Both came from the profile, so every page sorted and scanned all of the
-- clinic's patients: its cost grew with the clinic. The clinic link now
-- keeps the name key and whether the patient has an open red flag,
-- indexed by clinic.
--
-- Derived data, as in migrations 6 and 8: triggers keep it in the same
-- transaction as the write that changes the profile or adds the link, so
-- restores and `migrate-store` keep it right too (a restore's rebuilt
-- facts update the profiles, which updates the links). Snapshots do not
-- carry it.
ALTER TABLE clinic_patients
    ADD COLUMN name_key text COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN flagged  boolean NOT NULL DEFAULT false;

UPDATE clinic_patients cp
SET name_key = lower(p.name COLLATE "C"), flagged = p.open_episodes > 0
FROM profiles p WHERE p.id = cp.profile_id;

CREATE INDEX clinic_patients_by_name ON clinic_patients (clinic_id, name_key, profile_id);
CREATE INDEX clinic_patients_flagged ON clinic_patients (clinic_id, name_key, profile_id)
    WHERE flagged;

CREATE FUNCTION clinic_patient_list_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT lower(p.name COLLATE "C"), p.open_episodes > 0 INTO NEW.name_key, NEW.flagged
    FROM profiles p WHERE p.id = NEW.profile_id;
    RETURN NEW;
END
$$;

CREATE TRIGGER clinic_patients_list_keys BEFORE INSERT ON clinic_patients
    FOR EACH ROW EXECUTE FUNCTION clinic_patient_list_keys();

CREATE FUNCTION profile_list_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE clinic_patients
    SET name_key = lower(NEW.name COLLATE "C"), flagged = NEW.open_episodes > 0
    WHERE profile_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER profiles_list_keys AFTER UPDATE OF name, open_episodes ON profiles
    FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name
          OR (OLD.open_episodes > 0) IS DISTINCT FROM (NEW.open_episodes > 0))
    EXECUTE FUNCTION profile_list_keys();
