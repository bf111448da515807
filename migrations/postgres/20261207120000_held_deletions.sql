-- Deletions a run held back because its listing would have removed most of a kind at once:
-- the next run deletes them only if its listing misses the same objects again.
CREATE TABLE held_deletions (
    env TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    -- JSON array of the uids the held listing no longer had
    uids TEXT COLLATE "C" NOT NULL,
    -- objects of the kind the mirror held then
    known BIGINT NOT NULL,
    run_id BIGINT NOT NULL,
    held_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (env, kind)
);
