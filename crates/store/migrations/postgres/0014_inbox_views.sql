-- needlewise schema, version 14: a member's inbox views in a window, in
-- one index range, as 6 did for the patient list on PostgreSQL. Whether
-- an inbox view must be logged (once per patient and window) is then one
-- range read of these lines, not a scan of the whole audit log. Lines
-- written before this migration are indexed too. No table changes.
--
-- Never edit this file once released: add a new migration instead.

CREATE INDEX audit_log_inbox_views ON audit_log (clinic_id, actor, at)
    WHERE action = 'viewed_inbox';
