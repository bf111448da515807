-- The reports join packs and profile refs to clusters for (uid, name, state, project): read
-- from this index alone instead of the cluster rows, which carry their list JSON.
CREATE INDEX clusters_brief ON clusters (env, uid, state, project_uid, name);
-- Every column the pack-usage report reads, so its scan never visits the table.
CREATE INDEX cluster_packs_usage ON cluster_packs (env, name, tag, version, layer, cluster_uid);
