-- The mirror's generation: raised inside every transaction that changes what an answer is built
-- from, so every process on this file (a server, a `sync --once` beside it) can tell that cached
-- answers and report counts are out of date. One row for the whole mirror, not one per
-- environment: answers span environments (the fleet report covers all of them), and some
-- writes (history pruning) belong to none.
CREATE TABLE mirror_generation (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    generation  INTEGER NOT NULL
) STRICT;
INSERT INTO mirror_generation (id, generation) VALUES (1, 0);
