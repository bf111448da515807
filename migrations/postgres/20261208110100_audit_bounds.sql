-- A bounded audit log: repeated denials of one subject, route and reason within a minute are one
-- row (`count`, `last_at`), found by `collapse_key`; rows past `audit.retention_days` are pruned
-- by their last activity.
ALTER TABLE audit_log ADD COLUMN count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE audit_log ADD COLUMN last_at TEXT COLLATE "C";
ALTER TABLE audit_log ADD COLUMN collapse_key TEXT COLLATE "C";
CREATE UNIQUE INDEX audit_log_collapse ON audit_log (collapse_key) WHERE collapse_key IS NOT NULL;
CREATE INDEX audit_log_by_last ON audit_log (COALESCE(last_at, at));
