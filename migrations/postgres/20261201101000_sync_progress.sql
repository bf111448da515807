-- Progressive sync: a run applies its listings first, then details in batches. `listed_at`
-- says when this run's listings were applied (the mirror is browsable from then on, even if
-- the run later dies); `counts` is kept up to date with every batch, so a run that dies
-- still tells what it applied.
ALTER TABLE sync_runs ADD COLUMN listed_at TEXT COLLATE "C";
