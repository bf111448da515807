-- Creation answers by Idempotency-Key, so a retried wizard submit never creates twice.
-- A row with no status is a creation in flight; rows live 24 hours.
CREATE TABLE idempotency_keys (
    env         TEXT NOT NULL,
    subject     TEXT NOT NULL,
    key         TEXT NOT NULL,
    body_hash   TEXT NOT NULL,
    status      BIGINT,
    answer      TEXT,
    created_at  BIGINT NOT NULL,   -- unix seconds
    PRIMARY KEY (env, subject, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
