-- The mirror's generation: raised inside every transaction that changes what an answer is built
-- from, and announced at its commit (NOTIFY spectrocloud_mirror), so every replica can tell that
-- its cached answers and report counts are out of date. One row for the whole mirror, not one
-- per environment: answers span environments (the fleet report covers all of them), and some
-- writes (history pruning) belong to none. The row is raised last, just before COMMIT, so its
-- lock is held only for the commit itself.
CREATE TABLE mirror_generation (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    generation  BIGINT NOT NULL
);
INSERT INTO mirror_generation (id, generation) VALUES (1, 0);

-- The webhook notifier tails events by id (`id > cursor`). Ids come from a sequence, so two
-- transactions writing events at once (two environments syncing on two replicas) could commit
-- out of id order, and the notifier, having moved past the later id, would never send the
-- earlier one. Writers of events take this transaction lock before their first event is
-- numbered and hold it to their commit: events become visible in id order. (SQLite has one
-- writer at a time.)
CREATE FUNCTION events_in_commit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('spectrocloud.events'));
    RETURN NULL;
END;
$$;
CREATE TRIGGER events_in_commit_order BEFORE INSERT ON events
FOR EACH STATEMENT EXECUTE FUNCTION events_in_commit_order();
