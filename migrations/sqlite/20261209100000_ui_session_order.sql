-- Sessions of one subject are ended oldest first; SQLite tells the order of sessions created in
-- the same second by their rowid, so it needs nothing here (PostgreSQL's twin adds a sequence).
SELECT 1;
