-- The local mirror of every configured Palette environment (DESIGN.md §4), PostgreSQL twin of
-- migrations/sqlite/20261128000001_mirror.sql (same tables, columns and indexes; integers are
-- BIGINT so the shared code reads i64).
-- Palette objects are kept as the JSON text Palette sent (list answers are built by
-- concatenating it); the columns beside it exist for filtering, joins and reports.
-- Times are RFC 3339 UTC text. `project_uid` is NULL for tenant-scoped objects.
-- Text columns are COLLATE "C": names sort byte by byte, as on SQLite, whatever the
-- database's locale, so pages and answers are the same on both backends.

CREATE TABLE environments (
    name        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    url         TEXT COLLATE "C" NOT NULL,
    tenant      TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at  TEXT COLLATE "C" NOT NULL
);

CREATE TABLE projects (
    env            TEXT COLLATE "C" NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
    uid            TEXT COLLATE "C" NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    last_modified  TEXT COLLATE "C" NOT NULL DEFAULT '',
    json           TEXT COLLATE "C" NOT NULL,
    synced_at      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (env, uid)
);
-- Case-insensitive name lookups (`lower(name) = lower(?)`).
CREATE INDEX projects_by_name ON projects (env, lower(name));

CREATE TABLE clusters (
    env                 TEXT COLLATE "C" NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
    uid                 TEXT COLLATE "C" NOT NULL,
    name                TEXT COLLATE "C" NOT NULL,
    scope               TEXT COLLATE "C" NOT NULL DEFAULT 'project',
    project_uid         TEXT COLLATE "C",
    cloud_type          TEXT COLLATE "C" NOT NULL DEFAULT '',
    state               TEXT COLLATE "C" NOT NULL DEFAULT '',
    health              TEXT COLLATE "C",
    kubernetes_version  TEXT COLLATE "C",
    last_modified       TEXT COLLATE "C" NOT NULL DEFAULT '',
    list_json           TEXT COLLATE "C" NOT NULL,   -- item of GET /v1/dashboard/spectroclusters/meta
    synced_at           TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (env, uid)
);
CREATE INDEX clusters_by_project ON clusters (env, project_uid);
CREATE INDEX clusters_by_name ON clusters (env, name);
CREATE INDEX clusters_by_cloud_state ON clusters (env, cloud_type, state);

-- The large per-cluster documents live apart, so list scans of `clusters` stay compact.
CREATE TABLE cluster_details (
    env            TEXT COLLATE "C" NOT NULL,
    uid            TEXT COLLATE "C" NOT NULL,
    detail_json    TEXT COLLATE "C" NOT NULL,   -- GET /v1/dashboard/spectroclusters/{uid}
    profiles_json  TEXT COLLATE "C" NOT NULL,   -- GET /v1/spectroclusters/{uid}/profiles?includePackMeta=schema,presets
    synced_at      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (env, uid),
    FOREIGN KEY (env, uid) REFERENCES clusters (env, uid) ON DELETE CASCADE
);

-- One row per profile as Palette lists it (the listed uid is the latest version's uid).
CREATE TABLE cluster_profiles (
    env            TEXT COLLATE "C" NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
    uid            TEXT COLLATE "C" NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    scope          TEXT COLLATE "C" NOT NULL DEFAULT 'project',
    project_uid    TEXT COLLATE "C",
    profile_type   TEXT COLLATE "C" NOT NULL DEFAULT '',
    cloud_type     TEXT COLLATE "C" NOT NULL DEFAULT '',
    version        TEXT COLLATE "C" NOT NULL DEFAULT '',
    last_modified  TEXT COLLATE "C" NOT NULL DEFAULT '',
    list_json      TEXT COLLATE "C" NOT NULL,   -- item of POST /v1/dashboard/clusterprofiles
    synced_at      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (env, uid)
);
CREATE INDEX cluster_profiles_by_name ON cluster_profiles (env, lower(name));
CREATE INDEX cluster_profiles_by_project ON cluster_profiles (env, project_uid);

-- Every version of every profile; each version has its own uid. `profile_uid` is the uid the
-- profile is currently listed under, so any version uid leads to all its siblings.
CREATE TABLE profile_versions (
    env            TEXT COLLATE "C" NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
    uid            TEXT COLLATE "C" NOT NULL,
    profile_uid    TEXT COLLATE "C" NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    version        TEXT COLLATE "C" NOT NULL DEFAULT '',
    scope          TEXT COLLATE "C" NOT NULL DEFAULT 'project',
    project_uid    TEXT COLLATE "C",
    profile_type   TEXT COLLATE "C" NOT NULL DEFAULT '',
    cloud_type     TEXT COLLATE "C" NOT NULL DEFAULT '',
    last_modified  TEXT COLLATE "C" NOT NULL DEFAULT '',
    json           TEXT COLLATE "C" NOT NULL,   -- GET /v1/clusterprofiles/{uid}?includePackMeta=schema,presets
    synced_at      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (env, uid)
);
CREATE INDEX profile_versions_by_profile ON profile_versions (env, profile_uid);

CREATE TABLE profile_packs (
    env           TEXT COLLATE "C" NOT NULL,
    version_uid   TEXT COLLATE "C" NOT NULL,
    position      BIGINT NOT NULL,
    name          TEXT COLLATE "C" NOT NULL,
    tag           TEXT COLLATE "C" NOT NULL DEFAULT '',
    version       TEXT COLLATE "C" NOT NULL DEFAULT '',
    layer         TEXT COLLATE "C" NOT NULL DEFAULT '',
    pack_type     TEXT COLLATE "C" NOT NULL DEFAULT '',
    pack_uid      TEXT COLLATE "C" NOT NULL DEFAULT '',
    PRIMARY KEY (env, version_uid, position),
    FOREIGN KEY (env, version_uid) REFERENCES profile_versions (env, uid) ON DELETE CASCADE
);
CREATE INDEX profile_packs_by_name ON profile_packs (env, name, tag);

CREATE TABLE profile_variables (
    env           TEXT COLLATE "C" NOT NULL,
    version_uid   TEXT COLLATE "C" NOT NULL,
    json          TEXT COLLATE "C" NOT NULL,   -- GET /v1/clusterprofiles/{uid}/variables
    PRIMARY KEY (env, version_uid),
    FOREIGN KEY (env, version_uid) REFERENCES profile_versions (env, uid) ON DELETE CASCADE
);

-- The reverse index: which cluster runs which profile VERSION (by version uid, never by name).
-- The profile a version belongs to is found through profile_versions, so a newly published
-- version never leaves stale links here. Name and version are as the cluster reports them,
-- which also covers versions not in the mirror (e.g. system profiles).
CREATE TABLE cluster_profile_refs (
    env                  TEXT COLLATE "C" NOT NULL,
    cluster_uid          TEXT COLLATE "C" NOT NULL,
    profile_version_uid  TEXT COLLATE "C" NOT NULL,
    position             BIGINT NOT NULL,
    profile_name         TEXT COLLATE "C" NOT NULL DEFAULT '',
    profile_version      TEXT COLLATE "C" NOT NULL DEFAULT '',
    profile_type         TEXT COLLATE "C" NOT NULL DEFAULT '',
    PRIMARY KEY (env, cluster_uid, profile_version_uid),
    FOREIGN KEY (env, cluster_uid) REFERENCES clusters (env, uid) ON DELETE CASCADE
);
CREATE INDEX cluster_profile_refs_by_version ON cluster_profile_refs (env, profile_version_uid);

-- Packs each cluster runs, for pack-usage questions ("which clusters run cilium 1.15?").
CREATE TABLE cluster_packs (
    env                  TEXT COLLATE "C" NOT NULL,
    cluster_uid          TEXT COLLATE "C" NOT NULL,
    profile_version_uid  TEXT COLLATE "C" NOT NULL,
    name                 TEXT COLLATE "C" NOT NULL,
    tag                  TEXT COLLATE "C" NOT NULL DEFAULT '',
    version              TEXT COLLATE "C" NOT NULL DEFAULT '',
    layer                TEXT COLLATE "C" NOT NULL DEFAULT '',
    PRIMARY KEY (env, cluster_uid, profile_version_uid, name),
    FOREIGN KEY (env, cluster_uid) REFERENCES clusters (env, uid) ON DELETE CASCADE
);
CREATE INDEX cluster_packs_by_name ON cluster_packs (env, name, tag);

-- Secret fields are stripped before a cloud account is stored.
CREATE TABLE cloud_accounts (
    env            TEXT COLLATE "C" NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
    cloud_type     TEXT COLLATE "C" NOT NULL,
    uid            TEXT COLLATE "C" NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    scope          TEXT COLLATE "C" NOT NULL DEFAULT 'tenant',
    project_uid    TEXT COLLATE "C",
    last_modified  TEXT COLLATE "C" NOT NULL DEFAULT '',
    json           TEXT COLLATE "C" NOT NULL,
    synced_at      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (env, cloud_type, uid)
);
CREATE INDEX cloud_accounts_by_uid ON cloud_accounts (env, uid);

CREATE TABLE overlords (
    env            TEXT COLLATE "C" NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
    uid            TEXT COLLATE "C" NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    kind           TEXT COLLATE "C" NOT NULL DEFAULT '',
    scope          TEXT COLLATE "C" NOT NULL DEFAULT 'tenant',
    project_uid    TEXT COLLATE "C",
    last_modified  TEXT COLLATE "C" NOT NULL DEFAULT '',
    json           TEXT COLLATE "C" NOT NULL,
    synced_at      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (env, uid)
);

CREATE TABLE cluster_groups (
    env            TEXT COLLATE "C" NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
    uid            TEXT COLLATE "C" NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    scope          TEXT COLLATE "C" NOT NULL DEFAULT 'tenant',
    project_uid    TEXT COLLATE "C",
    last_modified  TEXT COLLATE "C" NOT NULL DEFAULT '',
    list_json      TEXT COLLATE "C" NOT NULL,   -- summary of GET /v1/clustergroups/hostCluster
    detail_json    TEXT COLLATE "C",            -- GET /v1/clustergroups/{uid}
    synced_at      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (env, uid)
);

CREATE TABLE virtual_clusters (
    env                TEXT COLLATE "C" NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
    uid                TEXT COLLATE "C" NOT NULL,
    name               TEXT COLLATE "C" NOT NULL,
    scope              TEXT COLLATE "C" NOT NULL DEFAULT 'project',
    project_uid        TEXT COLLATE "C",
    state              TEXT COLLATE "C" NOT NULL DEFAULT '',
    host_cluster_uid   TEXT COLLATE "C",
    cluster_group_uid  TEXT COLLATE "C",
    last_modified      TEXT COLLATE "C" NOT NULL DEFAULT '',
    list_json          TEXT COLLATE "C" NOT NULL,   -- item of POST /v1/dashboard/spectroclusters/search (nested)
    synced_at          TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (env, uid)
);
CREATE INDEX virtual_clusters_by_project ON virtual_clusters (env, project_uid);

-- What a Palette user may see (from /v1/users/me), kept so scoping still applies while Palette
-- is unreachable. `user_key` is the lower-cased email, or a hash of the token without one.
CREATE TABLE user_scopes (
    env                 TEXT COLLATE "C" NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
    user_key            TEXT COLLATE "C" NOT NULL,
    email               TEXT COLLATE "C",
    project_uids        TEXT COLLATE "C" NOT NULL,   -- JSON array
    tenant_permissions  TEXT COLLATE "C" NOT NULL,   -- JSON array
    fetched_at          TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (env, user_key)
);

CREATE TABLE sync_runs (
    id           BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    env          TEXT COLLATE "C" NOT NULL REFERENCES environments(name) ON DELETE CASCADE,
    trigger      TEXT COLLATE "C" NOT NULL,          -- startup | schedule | manual | cli
    started_at   TEXT COLLATE "C" NOT NULL,
    finished_at  TEXT COLLATE "C",
    outcome      TEXT COLLATE "C" NOT NULL,          -- running | success | failed | interrupted
    counts       TEXT COLLATE "C" NOT NULL DEFAULT '{}',   -- JSON: kind -> {seen, added, changed, deleted}
    api_calls    BIGINT NOT NULL DEFAULT 0,
    error        TEXT COLLATE "C"
);
CREATE INDEX sync_runs_by_env ON sync_runs (env, id);

CREATE TABLE audit_log (
    id             BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at             TEXT COLLATE "C" NOT NULL,
    subject        TEXT COLLATE "C" NOT NULL,
    palette_email  TEXT COLLATE "C",
    action         TEXT COLLATE "C" NOT NULL,   -- kubeconfig.download | manifest.view | cluster.create | sync.trigger
    env            TEXT COLLATE "C" NOT NULL,
    object_uid     TEXT COLLATE "C",
    outcome        TEXT COLLATE "C" NOT NULL,   -- success | failure
    detail         TEXT COLLATE "C"
);
