-- Change history (issue 15): what each applied sync changed, as events, written by triggers
-- on the mirror tables so every event is in the same transaction as its change, whatever code
-- path writes it. An environment records nothing before its first successful sync (the cold
-- sync is not a list of changes). `at` is RFC 3339 UTC with milliseconds.

CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    env          TEXT NOT NULL,
    at           TEXT NOT NULL,
    type         TEXT NOT NULL,   -- cluster.added | cluster.deleted | cluster.state_changed | ...
    kind         TEXT NOT NULL,   -- cluster | profile
    object_uid   TEXT NOT NULL,
    object_name  TEXT NOT NULL DEFAULT '',
    project_uid  TEXT,
    from_value   TEXT,
    to_value     TEXT
) STRICT;
CREATE INDEX events_by_env ON events (env, id);
CREATE INDEX events_by_object ON events (env, object_uid, id);
CREATE INDEX events_by_project ON events (env, project_uid, id);
CREATE INDEX events_by_type ON events (env, type, id);
CREATE INDEX events_by_time ON events (at);

-- A cluster's profile references are rewritten (deleted, then inserted) whenever its details
-- are; the deleted ones wait here for the insert of the same profile in the same transaction,
-- which tells whether the version moved. Whatever is left after a commit is garbage (pruned).
CREATE TABLE event_ref_stash (
    env           TEXT NOT NULL,
    cluster_uid   TEXT NOT NULL,
    profile_name  TEXT NOT NULL,
    version_uid   TEXT NOT NULL,
    version       TEXT NOT NULL,
    PRIMARY KEY (env, cluster_uid, profile_name)
) STRICT;

-- Daily fleet aggregates per environment and project (so scoped readers see only theirs):
-- clusters by state and by kubernetes version, the day's last snapshot.
CREATE TABLE fleet_daily (
    env          TEXT NOT NULL,
    day          TEXT NOT NULL,   -- YYYY-MM-DD (UTC)
    project_uid  TEXT,
    dimension    TEXT NOT NULL,   -- state | kubernetesVersion
    value        TEXT NOT NULL,
    clusters     INTEGER NOT NULL
) STRICT;
CREATE INDEX fleet_daily_by_day ON fleet_daily (env, day);

-- The fleet report and the trend group an environment's clusters by these columns: read from
-- the index alone instead of the table.
CREATE INDEX clusters_fleet ON clusters (env, state, kubernetes_version, project_uid, health, cloud_type);

CREATE TRIGGER events_cluster_added AFTER INSERT ON clusters
WHEN EXISTS (SELECT 1 FROM sync_runs WHERE env = NEW.env AND outcome = 'success')
BEGIN
    INSERT INTO events (env, at, type, kind, object_uid, object_name, project_uid, from_value, to_value)
    VALUES (NEW.env, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'cluster.added', 'cluster', NEW.uid,
            NEW.name, NEW.project_uid, NULL, NULLIF(NEW.state, ''));
END;

CREATE TRIGGER events_cluster_deleted AFTER DELETE ON clusters
WHEN EXISTS (SELECT 1 FROM sync_runs WHERE env = OLD.env AND outcome = 'success')
BEGIN
    INSERT INTO events (env, at, type, kind, object_uid, object_name, project_uid, from_value, to_value)
    VALUES (OLD.env, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'cluster.deleted', 'cluster', OLD.uid,
            OLD.name, OLD.project_uid, NULLIF(OLD.state, ''), NULL);
    DELETE FROM event_ref_stash WHERE env = OLD.env AND cluster_uid = OLD.uid;
END;

-- A value appearing for the first time (details arriving after the listing) is no change.
CREATE TRIGGER events_cluster_state AFTER UPDATE OF state ON clusters
WHEN OLD.state <> '' AND NEW.state <> '' AND OLD.state <> NEW.state
 AND EXISTS (SELECT 1 FROM sync_runs WHERE env = NEW.env AND outcome = 'success')
BEGIN
    INSERT INTO events (env, at, type, kind, object_uid, object_name, project_uid, from_value, to_value)
    VALUES (NEW.env, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'cluster.state_changed', 'cluster',
            NEW.uid, NEW.name, NEW.project_uid, OLD.state, NEW.state);
END;

CREATE TRIGGER events_cluster_health AFTER UPDATE OF health ON clusters
WHEN OLD.health IS NOT NULL AND NEW.health IS NOT NULL AND OLD.health <> NEW.health
 AND EXISTS (SELECT 1 FROM sync_runs WHERE env = NEW.env AND outcome = 'success')
BEGIN
    INSERT INTO events (env, at, type, kind, object_uid, object_name, project_uid, from_value, to_value)
    VALUES (NEW.env, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'cluster.health_changed', 'cluster',
            NEW.uid, NEW.name, NEW.project_uid, OLD.health, NEW.health);
END;

CREATE TRIGGER events_cluster_kubernetes AFTER UPDATE OF kubernetes_version ON clusters
WHEN OLD.kubernetes_version IS NOT NULL AND NEW.kubernetes_version IS NOT NULL
 AND OLD.kubernetes_version <> NEW.kubernetes_version
 AND EXISTS (SELECT 1 FROM sync_runs WHERE env = NEW.env AND outcome = 'success')
BEGIN
    INSERT INTO events (env, at, type, kind, object_uid, object_name, project_uid, from_value, to_value)
    VALUES (NEW.env, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'cluster.kubernetes_version_changed',
            'cluster', NEW.uid, NEW.name, NEW.project_uid, OLD.kubernetes_version,
            NEW.kubernetes_version);
END;

CREATE TRIGGER events_ref_removed BEFORE DELETE ON cluster_profile_refs
WHEN EXISTS (SELECT 1 FROM sync_runs WHERE env = OLD.env AND outcome = 'success')
BEGIN
    INSERT OR REPLACE INTO event_ref_stash (env, cluster_uid, profile_name, version_uid, version)
    VALUES (OLD.env, OLD.cluster_uid, OLD.profile_name, OLD.profile_version_uid, OLD.profile_version);
END;

-- from/to are "<profile name>@<version>".
CREATE TRIGGER events_ref_added AFTER INSERT ON cluster_profile_refs
WHEN EXISTS (SELECT 1 FROM event_ref_stash WHERE env = NEW.env AND cluster_uid = NEW.cluster_uid
                AND profile_name = NEW.profile_name)
BEGIN
    INSERT INTO events (env, at, type, kind, object_uid, object_name, project_uid, from_value, to_value)
    SELECT NEW.env, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'cluster.profile_version_changed',
           'cluster', c.uid, c.name, c.project_uid, s.profile_name || '@' || s.version,
           NEW.profile_name || '@' || NEW.profile_version
    FROM event_ref_stash s JOIN clusters c ON c.env = s.env AND c.uid = s.cluster_uid
    WHERE s.env = NEW.env AND s.cluster_uid = NEW.cluster_uid AND s.profile_name = NEW.profile_name
      AND s.version_uid <> NEW.profile_version_uid;
    DELETE FROM event_ref_stash
    WHERE env = NEW.env AND cluster_uid = NEW.cluster_uid AND profile_name = NEW.profile_name;
END;

CREATE TRIGGER events_version_published AFTER INSERT ON profile_versions
WHEN EXISTS (SELECT 1 FROM sync_runs WHERE env = NEW.env AND outcome = 'success')
BEGIN
    INSERT INTO events (env, at, type, kind, object_uid, object_name, project_uid, from_value, to_value)
    VALUES (NEW.env, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'profile.version_published', 'profile',
            NEW.uid, NEW.name, NEW.project_uid, NULL, NEW.version);
END;

-- A profile is gone when the last version listed under its uid goes and no profile of its name
-- is listed any more (a single old version going, or a new version re-listing the profile
-- under a new uid, is not a deletion).
CREATE TRIGGER events_profile_deleted AFTER DELETE ON profile_versions
WHEN NOT EXISTS (SELECT 1 FROM profile_versions WHERE env = OLD.env AND profile_uid = OLD.profile_uid)
 AND NOT EXISTS (SELECT 1 FROM cluster_profiles WHERE env = OLD.env AND name = OLD.name)
 AND EXISTS (SELECT 1 FROM sync_runs WHERE env = OLD.env AND outcome = 'success')
BEGIN
    INSERT INTO events (env, at, type, kind, object_uid, object_name, project_uid, from_value, to_value)
    VALUES (OLD.env, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'profile.deleted', 'profile',
            OLD.profile_uid, OLD.name, OLD.project_uid, OLD.version, NULL);
END;
