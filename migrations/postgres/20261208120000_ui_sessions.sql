-- Fleet page sign-ins: the browser holds a random session id, never the bearer token. Only
-- the id's SHA-256 is stored, so a copy of the database yields no working cookie. The caller
-- is rebuilt from these columns and the current configuration on every page request.
CREATE TABLE ui_sessions (
    id_hash        TEXT PRIMARY KEY,    -- hex SHA-256 of the cookie's session id
    subject        TEXT NOT NULL,
    groups_json    TEXT NOT NULL,       -- JSON array of the caller's groups at sign-in
    method         TEXT NOT NULL,       -- static | backstage
    palette_user   TEXT,
    token_digest   TEXT,                -- hex SHA-256 of a static token: its rotation ends the session
    created_at     BIGINT NOT NULL,     -- unix seconds
    expires_at     BIGINT NOT NULL      -- unix seconds; absolute, never extended
);
CREATE INDEX ui_sessions_by_subject ON ui_sessions (subject, created_at);
CREATE INDEX ui_sessions_by_expiry ON ui_sessions (expires_at);
