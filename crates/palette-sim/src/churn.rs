//! Demo churn: a few clusters change state or health, or move to the latest version of one of
//! their profiles, every so often (knob `churn_every_seconds`), so a demo's change history
//! and trends are not empty. Off by default: tests that are not about it see a still Palette.

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;

use super::data::SimData;

/// One change made to a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Running ↔ Unknown (the cluster lost, then regained, its agent connection).
    State {
        uid: String,
        from: String,
        to: String,
    },
    /// Healthy ↔ UnHealthy, on a running cluster.
    Health {
        uid: String,
        from: String,
        to: String,
    },
    /// An older profile version replaced by that profile's latest.
    Upgrade {
        uid: String,
        from_version: String,
        to_version: String,
    },
}

/// Picks up to `count` distinct settled clusters (not being created or deleted) and what
/// happens to each. Pure apart from the dataset's own random source.
pub fn plan(d: &mut SimData, count: usize) -> Vec<Change> {
    let settled: Vec<usize> = (0..d.clusters.len())
        .filter(|i| {
            let c = &d.clusters[*i];
            c.provisioning_since.is_none() && c.deleting_since.is_none()
        })
        .collect();
    let mut picked: Vec<usize> = Vec::new();
    for _ in 0..count.min(settled.len()) * 4 {
        if picked.len() == count.min(settled.len()) {
            break;
        }
        let i = settled[d.rng.random_range(0..settled.len())];
        if !picked.contains(&i) {
            picked.push(i);
        }
    }
    let mut changes = Vec::new();
    for i in picked {
        let roll: f64 = d.rng.random();
        let change = if roll < 0.5 {
            upgrade(d, i).or_else(|| flip(d, i, roll < 0.25))
        } else {
            flip(d, i, roll < 0.75)
        };
        changes.extend(change);
    }
    changes
}

/// The first profile of cluster `i` not on its latest version, moved there.
fn upgrade(d: &SimData, i: usize) -> Option<Change> {
    let c = &d.clusters[i];
    c.profile_refs.iter().find_map(|r| {
        let (p, _) = d.version(r)?;
        let latest = &p.latest().uid;
        (latest != r).then(|| Change::Upgrade {
            uid: c.meta.uid.clone(),
            from_version: r.clone(),
            to_version: latest.clone(),
        })
    })
}

/// A state change (`state` true) or, on a running cluster, a health change.
fn flip(d: &SimData, i: usize, state: bool) -> Option<Change> {
    let c = &d.clusters[i];
    let uid = c.meta.uid.clone();
    match (c.state.as_str(), state) {
        ("Running", false) => {
            let to = if c.health == "Healthy" {
                "UnHealthy"
            } else {
                "Healthy"
            };
            Some(Change::Health {
                uid,
                from: c.health.clone(),
                to: to.into(),
            })
        }
        ("Running", true) => Some(Change::State {
            uid,
            from: "Running".into(),
            to: "Unknown".into(),
        }),
        ("Unknown", _) => Some(Change::State {
            uid,
            from: "Unknown".into(),
            to: "Running".into(),
        }),
        _ => None,
    }
}

/// Applies planned changes; an upgrade of the infrastructure profile brings its Kubernetes
/// version along, as on Palette.
pub fn apply(d: &mut SimData, changes: &[Change], now: DateTime<Utc>) {
    let mut moved = false;
    for change in changes {
        match change {
            Change::State { uid, to, .. } => {
                if let Some(c) = d.cluster_mut(uid) {
                    c.health = if to == "Running" { "Healthy" } else { "" }.into();
                    c.state = to.clone();
                    c.meta.modified = now;
                }
            }
            Change::Health { uid, to, .. } => {
                if let Some(c) = d.cluster_mut(uid) {
                    c.health = to.clone();
                    c.meta.modified = now;
                }
            }
            Change::Upgrade {
                uid,
                from_version,
                to_version,
            } => {
                let k8s = d.version(to_version).and_then(|(_, v)| {
                    v.packs
                        .iter()
                        .find(|p| p.layer == "k8s")
                        .map(|p| p.tag.clone())
                });
                if let Some(c) = d.cluster_mut(uid) {
                    for r in c.profile_refs.iter_mut().filter(|r| *r == from_version) {
                        *r = to_version.clone();
                    }
                    if let Some(k8s) = k8s {
                        c.kubernetes_version = k8s;
                    }
                    c.meta.modified = now;
                    moved = true;
                }
            }
        }
    }
    if moved {
        d.reindex();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sizes;

    fn data() -> SimData {
        SimData::generate(
            7,
            Sizes {
                projects: 3,
                clusters: 60,
                profiles: 10,
                versions_per_profile: 3,
            },
        )
    }

    #[test]
    fn a_step_changes_the_clusters_it_names_and_nothing_else() {
        let mut d = data();
        let before = d.clusters.clone();
        let changes = plan(&mut d, 3);
        assert!(!changes.is_empty() && changes.len() <= 3);
        apply(&mut d, &changes, Utc::now());
        let named: Vec<&str> = changes
            .iter()
            .map(|c| match c {
                Change::State { uid, .. } | Change::Health { uid, .. } => uid.as_str(),
                Change::Upgrade { uid, .. } => uid.as_str(),
            })
            .collect();
        for (old, new) in before.iter().zip(&d.clusters) {
            let changed = old.state != new.state
                || old.health != new.health
                || old.profile_refs != new.profile_refs;
            assert_eq!(changed, named.contains(&old.meta.uid.as_str()));
        }
    }

    #[test]
    fn an_upgrade_lands_on_the_latest_version_with_its_kubernetes() {
        let mut d = data();
        let i = (0..d.clusters.len())
            .find(|i| upgrade(&d, *i).is_some())
            .expect("some cluster is behind");
        let change = upgrade(&d, i).unwrap();
        let Change::Upgrade { to_version, .. } = &change else {
            panic!("an upgrade")
        };
        let (profile, version) = d.version(to_version).unwrap();
        assert_eq!(&profile.latest().uid, to_version);
        let k8s = version
            .packs
            .iter()
            .find(|p| p.layer == "k8s")
            .map(|p| p.tag.clone());
        let uid = d.clusters[i].meta.uid.clone();
        apply(&mut d, std::slice::from_ref(&change), Utc::now());
        let c = d.cluster(&uid).unwrap();
        assert!(c.profile_refs.contains(to_version));
        if let Some(k8s) = k8s {
            assert_eq!(c.kubernetes_version, k8s);
        }
        assert!(d.clusters_on(to_version).iter().any(|c| c.meta.uid == uid));
    }

    #[test]
    fn state_flips_return() {
        let mut d = data();
        let i = d
            .clusters
            .iter()
            .position(|c| c.state == "Running")
            .unwrap();
        let out = flip(&d, i, true).unwrap();
        apply(&mut d, &[out], Utc::now());
        assert_eq!(d.clusters[i].state, "Unknown");
        assert_eq!(d.clusters[i].health, "");
        let back = flip(&d, i, false).unwrap();
        apply(&mut d, &[back], Utc::now());
        assert_eq!(d.clusters[i].state, "Running");
        assert_eq!(d.clusters[i].health, "Healthy");
    }
}
