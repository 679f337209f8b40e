-- needlewise schema, version 12 (PostgreSQL): a clinic's canned replies,
-- and the escalation ladder's steps sent for red-flag conversations.
--
-- (Numbered 12: version 11 is written at the same time elsewhere; the
-- runner applies what is embedded and not yet applied, in order.)
--
-- Never edit this file once released: add a new migration instead.

-- Standard answers a clinic's clinicians keep (for example standard
-- aftercare advice), to insert into a reply.
CREATE TABLE canned_replies (
    clinic_id   uuid        NOT NULL REFERENCES clinics (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    title       text        NOT NULL CHECK (title <> ''),
    body        text        NOT NULL CHECK (body <> ''),
    updated_by  uuid        NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, id)
);

-- Which ladder steps went out for a conversation started from a red flag
-- that the clinic has not answered: the primary key makes each go once,
-- whichever instance claims it.
CREATE TABLE conversation_escalations (
    clinic_id       uuid        NOT NULL,
    profile_id      uuid        NOT NULL,
    conversation_id uuid        NOT NULL,
    step            integer     NOT NULL CHECK (step >= 0),
    at              timestamptz NOT NULL,
    PRIMARY KEY (clinic_id, profile_id, conversation_id, step),
    FOREIGN KEY (clinic_id, profile_id, conversation_id)
        REFERENCES conversations (clinic_id, profile_id, id) ON DELETE CASCADE
);

-- The ladder's worker reads the red-flag conversations that await the
-- clinic's first answer.
CREATE INDEX conversations_unanswered_red_flags ON conversations (created_at)
    WHERE origin_episode_id IS NOT NULL AND last_clinic_at IS NULL;
