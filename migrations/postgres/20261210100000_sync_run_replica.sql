-- The replica (or `sync --once` process) that ran each run; empty for runs recorded before.
ALTER TABLE sync_runs ADD COLUMN replica TEXT COLLATE "C";
