//! What keeps a bad Palette answer or a crash from hurting the mirror: a run's panic becomes
//! a failed run ([`contained`]), the run slot is freed however the run ends ([`Slot`]), and a
//! listing that would delete most of a kind at once waits for a second listing to confirm it
//! ([`hold_mass_deletions`]).

use std::collections::{BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;

use futures::FutureExt;

use super::apply::Writes;
use super::{EnvState, SyncError};
use crate::config::SyncConfig;
use crate::store::held::{self, Held};
use crate::store::leases;
use crate::store::snapshot::{Part, Snapshot};

/// Runs `work`; a panic inside it is a failed run, not a dead task.
pub async fn contained<T>(
    work: impl Future<Output = Result<T, SyncError>>,
) -> Result<T, SyncError> {
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(r) => r,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(SyncError::Panicked(message))
        }
    }
}

/// An environment's run slot, freed when dropped if run `id` still holds it: however the
/// run's task ends (a panic past [`contained`], a dropped future), later triggers start
/// new runs instead of answering `already_running` for ever.
pub struct Slot<'a> {
    pub state: &'a Mutex<HashMap<String, EnvState>>,
    pub env: &'a str,
    pub id: i64,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = s.get_mut(self.env)
            && e.running.as_ref().is_some_and(|r| r.id == self.id)
        {
            tracing::error!(
                env = self.env,
                run_id = self.id,
                "sync run ended abnormally; its slot is freed"
            );
            e.running = None;
            e.last_attempt_failed = true;
        }
    }
}

/// Where the guard reads and records what it held back (in the run's fenced writes).
struct Guard<'a> {
    w: &'a Writes<'a>,
    config: &'a SyncConfig,
    held: HashMap<String, Held>,
}

impl Guard<'_> {
    /// Holds back this kind's deletions (marks its listing incomplete) when they are most of
    /// the kind and no earlier listing already missed the same objects. Returns whether held.
    async fn check<'k, T>(
        &self,
        kind: &str,
        known: impl Iterator<Item = &'k String>,
        part: &mut Part<T>,
        uid: impl Fn(&T) -> String,
    ) -> Result<bool, SyncError> {
        let (db, env, lease) = (self.w.db, self.w.env, self.w.lease);
        if !part.complete {
            // Nothing is deleted on an incomplete listing anyway; it tells nothing new.
            return Ok(false);
        }
        let listed: BTreeSet<String> = part.rows.iter().map(uid).collect();
        let known: Vec<&String> = known.collect();
        let absent: BTreeSet<String> = known
            .iter()
            .filter(|u| !listed.contains(u.as_str()))
            .map(|u| u.to_string())
            .collect();
        let many = known.len() >= self.config.deletion_guard_min_objects
            && absent.len() as f64 > self.config.max_deletion_fraction * known.len() as f64;
        let previous = self.held.get(kind);
        let confirmed = previous.is_some_and(|h| absent.is_subset(&h.uids));
        if !many || confirmed {
            if previous.is_some() {
                let mut tx = leases::begin_fenced(db, lease).await?;
                held::clear_in(&mut tx, env, kind).await?;
                leases::commit_fenced(tx, lease).await?;
            }
            if many {
                tracing::warn!(
                    env,
                    kind,
                    deleting = absent.len(),
                    known = known.len(),
                    "a second listing confirms the held deletions; deleting"
                );
            }
            return Ok(false);
        }
        part.complete = false;
        let mut tx = leases::begin_fenced(db, lease).await?;
        held::hold_in(&mut tx, env, kind, &absent, known.len(), self.w.run_id).await?;
        leases::commit_fenced(tx, lease).await?;
        tracing::warn!(
            env,
            kind,
            absent = absent.len(),
            known = known.len(),
            max_fraction = self.config.max_deletion_fraction,
            "the listing would delete most of this kind at once; nothing deleted until the next run lists the same absence"
        );
        Ok(true)
    }
}

/// Applies the mass-deletion guard to every kind of a planned run (see `Guard::check`);
/// versions wait with their profiles.
pub async fn hold_mass_deletions(
    w: &Writes<'_>,
    snap: &mut Snapshot,
    config: &SyncConfig,
) -> Result<(), SyncError> {
    let g = Guard {
        w,
        config,
        held: held::of(w.db, w.env).await?,
    };
    let known = w.known;
    let row = |r: &crate::store::snapshot::ObjectRow| r.uid.clone();
    g.check("projects", known.projects.keys(), &mut snap.projects, row)
        .await?;
    g.check("clusters", known.clusters.keys(), &mut snap.clusters, |c| {
        c.row.uid.clone()
    })
    .await?;
    if g.check("profiles", known.profiles.keys(), &mut snap.profiles, |p| {
        p.row.uid.clone()
    })
    .await?
    {
        snap.versions.complete = false;
    }
    let versions = known.versions.keys();
    g.check("profile_versions", versions, &mut snap.versions, |v| {
        v.uid.clone()
    })
    .await?;
    let virtuals = known.virtual_clusters.keys();
    g.check(
        "virtual_clusters",
        virtuals,
        &mut snap.virtual_clusters,
        |v| v.row.uid.clone(),
    )
    .await?;
    let accounts = known.accounts.keys();
    g.check("cloud_accounts", accounts, &mut snap.cloud_accounts, |a| {
        format!("{}/{}", a.cloud_type, a.row.uid)
    })
    .await?;
    g.check(
        "overlords",
        known.overlords.keys(),
        &mut snap.overlords,
        |o| o.row.uid.clone(),
    )
    .await?;
    g.check(
        "cluster_groups",
        known.groups.keys(),
        &mut snap.cluster_groups,
        |g| g.row.uid.clone(),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::contained;
    use crate::sync::SyncError;

    #[tokio::test]
    async fn a_panic_is_a_failed_run() {
        let r: Result<(), SyncError> = contained(async { panic!("boom at a scalar") }).await;
        let e = r.expect_err("a panic fails the run").to_string();
        assert!(e.contains("boom at a scalar"), "{e}");
        let ok: Result<u8, SyncError> = contained(async { Ok(7) }).await;
        assert_eq!(ok.unwrap(), 7);
    }
}
