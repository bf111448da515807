-- Indexes the store's read plans call for (checked by tests/api/reads.rs,
-- every_store_read_has_an_index_plan).

-- The profile-usage report walks an environment's profiles in (name, uid) order: without this
-- the whole table is scanned and sorted (cluster_profiles_by_name is on lower(name), so it does
-- not serve an ORDER BY name).
CREATE INDEX cluster_profiles_by_env_name ON cluster_profiles (env, name, uid);
