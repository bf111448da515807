-- Idempotency keys are scoped to who asks as Palette sees it (`identity`: the verified Palette
-- user, a digest of an unverified user token, or the environment's API key) and to the request's
-- target (`project`, '' for the tenant), beside the bearer subject. A claim records its owner
-- (the process instance) and the cluster name, so a claim left by a dead process can be
-- recovered against Palette. Keys live 24 hours; those on record now are dropped (a retry across
-- the upgrade is judged by Palette, which refuses a taken cluster name with 409). The table is
-- recreated rather than altered: its rows go anyway, and the new columns sit inside the key, in
-- the same column order as the SQLite table.
DROP TABLE idempotency_keys;
CREATE TABLE idempotency_keys (
    env         TEXT COLLATE "C" NOT NULL,
    subject     TEXT COLLATE "C" NOT NULL,
    identity    TEXT COLLATE "C" NOT NULL,
    project     TEXT COLLATE "C" NOT NULL,
    key         TEXT COLLATE "C" NOT NULL,
    body_hash   TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    owner       TEXT COLLATE "C" NOT NULL,
    status      BIGINT,
    answer      TEXT COLLATE "C",
    created_at  BIGINT NOT NULL,   -- unix seconds: when the key was (last) claimed
    PRIMARY KEY (env, subject, identity, project, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
