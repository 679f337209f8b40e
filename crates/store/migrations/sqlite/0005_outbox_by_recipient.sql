-- needlewise schema, version 5: unsent emails by recipient, so a clinic's
-- pages can say whether emails to its team are going out (three index
-- look-ups instead of a scan of every unsent email).
CREATE INDEX email_outbox_pending_recipient ON email_outbox (recipient, created_at)
    WHERE sent_at IS NULL;
