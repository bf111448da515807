-- Creation answers by Idempotency-Key, so a retried wizard submit never creates twice.
-- A row with no status is a creation in flight; rows live 24 hours.
CREATE TABLE idempotency_keys (
    env         TEXT COLLATE "C" NOT NULL,
    subject     TEXT COLLATE "C" NOT NULL,
    key         TEXT COLLATE "C" NOT NULL,
    body_hash   TEXT COLLATE "C" NOT NULL,
    status      BIGINT,
    answer      TEXT COLLATE "C",
    created_at  BIGINT NOT NULL,   -- unix seconds
    PRIMARY KEY (env, subject, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
