-- One lease per environment (and one per piece of shared upkeep, keys starting with `#`):
-- which replica holds it, a ticket raised by every claim (writes of a run check theirs), and
-- when it expires, in milliseconds on the database's clock so replicas' clocks need not agree.
-- Claimed by compare-and-set when absent, expired or already the claimant's.
CREATE TABLE sync_leases (
    env TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    holder TEXT COLLATE "C" NOT NULL,
    ticket BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
