-- Whether a cluster's reverse index (its profile refs and packs) is in: from the cluster search
-- listing or from its own details. 0 = not yet (its listing left packs out, and its details
-- have not arrived): answers that depend on the index are partial while any cluster is 0.
ALTER TABLE clusters ADD COLUMN indexed BIGINT NOT NULL DEFAULT 0;
UPDATE clusters SET indexed = 1
 WHERE EXISTS (SELECT 1 FROM cluster_details d WHERE d.env = clusters.env AND d.uid = clusters.uid);
CREATE INDEX clusters_unindexed ON clusters (env) WHERE indexed = 0;

-- A profile version written from the profile listing has no details yet: `json` is '' until
-- they arrive (its routes read through to Palette meanwhile).
CREATE INDEX profile_versions_undetailed ON profile_versions (env) WHERE json = '';
