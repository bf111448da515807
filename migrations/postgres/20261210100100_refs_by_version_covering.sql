-- The reverse lookup reads a version's refs for their clusters: with the cluster in the index
-- it never visits the table, and the planner prefers this index even without statistics
-- (it chose a scan of the environment's refs through the primary key before).
DROP INDEX cluster_profile_refs_by_version;
CREATE INDEX cluster_profile_refs_by_version
    ON cluster_profile_refs (env, profile_version_uid, cluster_uid);
