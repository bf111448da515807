//! The pure half of a run: per kind, from one listed object and what the mirror holds, what
//! to do — fetch its details now, refresh them when the run has budget left, or keep them.
//! No I/O here; unit tests cover every rule.

use chrono::{DateTime, Duration, Utc};

use crate::store::snapshot::{KnownCluster, KnownVersion};

/// What one listed object needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// New, changed, or without details: fetch in this run.
    Fetch,
    /// Unchanged, but its details (written at this time) are old: refresh if budget allows.
    Refresh(String),
    /// Unchanged and fresh enough.
    Keep,
}

/// Whether stored details (written at `at`) are older than `max_age` at `now`.
pub fn aged(at: Option<&str>, max_age: Duration, now: DateTime<Utc>) -> bool {
    match at.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
        Some(t) => now - t.with_timezone(&Utc) > max_age,
        None => true,
    }
}

fn keep_or_refresh(at: Option<&str>, max_age: Duration, now: DateTime<Utc>) -> Need {
    if aged(at, max_age, now) {
        Need::Refresh(at.unwrap_or_default().to_string())
    } else {
        Need::Keep
    }
}

/// A listed cluster: changed when its `lastModifiedTimestamp` or state moved (or Palette sent
/// none), or when the mirror has no details of it (new, or left by a run that died).
pub fn cluster(
    last_modified: &str,
    state: &str,
    known: Option<&KnownCluster>,
    max_age: Duration,
    now: DateTime<Utc>,
) -> Need {
    match known {
        Some(k)
            if !last_modified.is_empty()
                && k.last_modified == last_modified
                && k.state == state
                && k.detail_at.is_some() =>
        {
            keep_or_refresh(k.detail_at.as_deref(), max_age, now)
        }
        _ => Need::Fetch,
    }
}

/// One version of a listed profile: new versions are fetched; the listed (newest) version
/// also when the profile's `lastModifiedTimestamp` moved; older versions do not change.
pub fn version(
    version_uid: &str,
    listed_uid: &str,
    profile_last_modified: &str,
    known: Option<&KnownVersion>,
    max_age: Duration,
    now: DateTime<Utc>,
) -> Need {
    match known {
        None => Need::Fetch,
        Some(k)
            if version_uid == listed_uid
                && (profile_last_modified.is_empty()
                    || k.last_modified != profile_last_modified) =>
        {
            Need::Fetch
        }
        Some(k) => keep_or_refresh(Some(&k.synced_at), max_age, now),
    }
}

/// A listed cluster group (few: no refresh budget): fetched unless unchanged with details.
/// `known` is (last modified, has details).
pub fn group(last_modified: &str, known: Option<&(String, bool)>) -> Need {
    match known {
        Some((lm, true)) if !last_modified.is_empty() && lm == last_modified => Need::Keep,
        _ => Need::Fetch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn known(lm: &str, state: &str, at: Option<&str>) -> KnownCluster {
        KnownCluster {
            last_modified: lm.into(),
            state: state.into(),
            detail_at: at.map(str::to_string),
        }
    }

    const DAY: i64 = 86_400;

    #[test]
    fn clusters_new_changed_or_without_details_are_fetched() {
        let age = Duration::seconds(DAY);
        let at = Some("2026-12-01T11:00:00Z");
        assert_eq!(cluster("t1", "Running", None, age, now()), Need::Fetch);
        let k = known("t1", "Running", at);
        assert_eq!(cluster("t2", "Running", Some(&k), age, now()), Need::Fetch);
        assert_eq!(cluster("t1", "Deleting", Some(&k), age, now()), Need::Fetch);
        assert_eq!(cluster("", "Running", Some(&k), age, now()), Need::Fetch);
        // Listed by a run that died before its details came: resumed.
        let listed_only = known("t1", "Running", None);
        assert_eq!(
            cluster("t1", "Running", Some(&listed_only), age, now()),
            Need::Fetch
        );
        assert_eq!(cluster("t1", "Running", Some(&k), age, now()), Need::Keep);
    }

    #[test]
    fn unchanged_clusters_with_old_details_are_refresh_candidates() {
        let k = known("t1", "Running", Some("2026-11-01T00:00:00Z"));
        assert_eq!(
            cluster("t1", "Running", Some(&k), Duration::seconds(DAY), now()),
            Need::Refresh("2026-11-01T00:00:00Z".into())
        );
    }

    #[test]
    fn versions_new_or_the_changed_newest_are_fetched() {
        let age = Duration::seconds(DAY);
        let k = KnownVersion {
            profile_uid: "p".into(),
            last_modified: "t1".into(),
            synced_at: "2026-12-01T11:00:00Z".into(),
        };
        assert_eq!(version("v1", "v1", "t1", None, age, now()), Need::Fetch);
        assert_eq!(version("v1", "v1", "t2", Some(&k), age, now()), Need::Fetch);
        assert_eq!(version("v1", "v1", "", Some(&k), age, now()), Need::Fetch);
        // An older version does not change when the profile does.
        assert_eq!(version("v0", "v1", "t2", Some(&k), age, now()), Need::Keep);
        assert_eq!(version("v1", "v1", "t1", Some(&k), age, now()), Need::Keep);
    }

    #[test]
    fn groups_are_kept_only_unchanged_with_details() {
        assert_eq!(group("t1", None), Need::Fetch);
        assert_eq!(group("t1", Some(&("t1".into(), false))), Need::Fetch);
        assert_eq!(group("t2", Some(&("t1".into(), true))), Need::Fetch);
        assert_eq!(group("t1", Some(&("t1".into(), true))), Need::Keep);
    }
}
