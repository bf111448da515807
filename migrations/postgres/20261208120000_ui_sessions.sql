-- Fleet page sign-ins: the browser holds a random session id, never the bearer token. Only
-- the id's SHA-256 is stored, so a copy of the database yields no working cookie. The caller
-- is rebuilt from these columns and the current configuration on every page request.
CREATE TABLE ui_sessions (
    id_hash        TEXT COLLATE "C" PRIMARY KEY,    -- hex SHA-256 of the cookie's session id
    subject        TEXT COLLATE "C" NOT NULL,
    groups_json    TEXT COLLATE "C" NOT NULL,       -- JSON array of the caller's groups at sign-in
    method         TEXT COLLATE "C" NOT NULL,       -- static | backstage
    palette_user   TEXT COLLATE "C",
    token_digest   TEXT COLLATE "C",                -- hex SHA-256 of a static token: its rotation ends the session
    created_at     BIGINT NOT NULL,     -- unix seconds
    expires_at     BIGINT NOT NULL      -- unix seconds; absolute, never extended
);
CREATE INDEX ui_sessions_by_subject ON ui_sessions (subject, created_at);
CREATE INDEX ui_sessions_by_expiry ON ui_sessions (expires_at);
