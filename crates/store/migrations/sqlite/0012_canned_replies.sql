-- needlewise schema, version 12 (SQLite): a clinic's canned replies, and
-- the escalation ladder's steps sent for red-flag conversations.
--
-- (Numbered 12: version 11 is written at the same time elsewhere; the
-- runner applies what is embedded and not yet applied, in order.)
--
-- Never edit this file once released: add a new migration instead.

-- Standard answers a clinic's clinicians keep (for example standard
-- aftercare advice), to insert into a reply.
CREATE TABLE canned_replies (
    clinic_id   TEXT    NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    id          TEXT    NOT NULL,
    title       TEXT    NOT NULL CHECK (title <> ''),
    body        TEXT    NOT NULL CHECK (body <> ''),
    updated_by  TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, id)
) STRICT;

-- Which ladder steps went out for a conversation started from a red flag
-- that the clinic has not answered: the primary key makes each go once,
-- whichever instance claims it.
CREATE TABLE conversation_escalations (
    clinic_id       TEXT    NOT NULL,
    profile_id      TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL,
    step            INTEGER NOT NULL CHECK (step >= 0),
    at              INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, profile_id, conversation_id, step),
    FOREIGN KEY (clinic_id, profile_id, conversation_id)
        REFERENCES conversations (clinic_id, profile_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- The ladder's worker reads the red-flag conversations that await the
-- clinic's first answer.
CREATE INDEX conversations_unanswered_red_flags ON conversations (created_at)
    WHERE origin_episode_id IS NOT NULL AND last_clinic_at IS NULL;
