-- needlewise schema, version 13: an email in the outbox may carry an
-- iCalendar invitation (RFC 5546), sent as a text/calendar part beside the
-- plain text: its METHOD and the calendar object's text, both or neither.
-- Rows queued before this migration carry none.
--
-- Never edit this file once released: add a new migration instead.

ALTER TABLE email_outbox ADD COLUMN calendar_method TEXT
    CHECK (calendar_method IN ('REQUEST', 'CANCEL'));
ALTER TABLE email_outbox ADD COLUMN calendar TEXT
    CHECK ((calendar IS NULL) = (calendar_method IS NULL) AND calendar <> '');
