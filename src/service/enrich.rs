//! A cluster the mirror lists without its details (a cold sync still filling them in), read by
//! a person: its details and profiles are fetched from Palette at once, ahead of the sync's
//! queue (people's calls go first, see `palette::pacing`), and written into the mirror as the
//! sync would write them, so the next read is local and the sync does not fetch them again.
//! Identical reads at the same time (same environment, cluster, project and credential) share
//! one fetch: a crowd opening one cluster costs Palette two calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::Ctx;
use super::through::Through;
use crate::domain::Uid;
use crate::error::AppResult;
use crate::palette::Credential;
use crate::palette::client::Call;

/// What one fetch got: each answer as Palette sent it, or its error.
pub struct Fetched {
    pub detail: AppResult<Vec<u8>>,
    pub profiles: AppResult<Vec<u8>>,
}

type Cell = Arc<OnceCell<Arc<Fetched>>>;

/// The fetches under way, by key; an entry lives as long as its fetch.
#[derive(Default)]
pub struct Flights {
    under_way: Mutex<HashMap<String, Cell>>,
}

impl Flights {
    /// The fetch of `key`: the one under way, or a new one.
    fn join(&self, key: String) -> Joined<'_> {
        let mut m = match self.under_way.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let cell = m.entry(key.clone()).or_default().clone();
        Joined {
            flights: self,
            key,
            cell,
        }
    }
}

/// A reader's part in a fetch. When it ends — answered, or its caller went away — the fetch
/// leaves the map: later reads find the mirror (or, if nothing was written, fetch anew rather
/// than reuse an old answer), and a fetch nobody waits for any more leaves nothing behind.
struct Joined<'a> {
    flights: &'a Flights,
    key: String,
    cell: Cell,
}

impl Drop for Joined<'_> {
    fn drop(&mut self) {
        let mut m = match self.flights.under_way.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if m.get(&self.key).is_some_and(|c| Arc::ptr_eq(c, &self.cell)) {
            m.remove(&self.key);
        }
    }
}

/// Who shares a fetch: the same environment, cluster, project scope and Palette credential
/// (a user token only by digest: never kept in clear).
fn key(ctx: &Ctx, uid: &Uid, project: Option<&str>) -> String {
    let credential = match ctx.user.credential() {
        Credential::ApiKey => "key".to_string(),
        Credential::User(token) => hex::encode(&Sha256::digest(token.as_bytes())[..16]),
    };
    let env = ctx.env.name();
    format!("{env}\n{uid}\n{}\n{credential}", project.unwrap_or("-"))
}

/// The details and profiles of cluster `uid` (in `project`'s scope), fetched once for every
/// identical read under way, and kept in the mirror when both came.
pub async fn cluster(t: &Through<'_>, uid: &Uid, project: Option<&str>) -> Arc<Fetched> {
    let joined = t.ctx.state.flights.join(key(t.ctx, uid, project));
    // A leader cancelled half-way (its caller went away) hands the fetch to a follower.
    joined
        .cell
        .get_or_init(|| fetch(t, uid, project))
        .await
        .clone()
}

/// Palette's call for a cluster's details (dashboard object), in `project`'s scope.
pub fn detail_call<'a>(t: &'a Through<'_>, uid: &Uid, project: Option<&'a str>) -> Call<'a> {
    t.get(format!("/v1/dashboard/spectroclusters/{uid}"), project)
}

/// Palette's call for a cluster's profiles with packs, values, schema and presets.
pub fn profiles_call<'a>(t: &'a Through<'_>, uid: &Uid, project: Option<&'a str>) -> Call<'a> {
    t.get(format!("/v1/spectroclusters/{uid}/profiles"), project)
        .query("includePackMeta", "schema,presets")
}

/// Both calls side by side: the answer waits for the slower, not for their sum.
async fn fetch(t: &Through<'_>, uid: &Uid, project: Option<&str>) -> Arc<Fetched> {
    let detail = detail_call(t, uid, project);
    let profiles = profiles_call(t, uid, project);
    let (detail, profiles) =
        tokio::join!(t.object(detail, "Cluster"), t.object(profiles, "Cluster"));
    let fetched = Fetched {
        detail: detail.map(super::Answer::into_bytes),
        profiles: profiles.map(super::Answer::into_bytes),
    };
    if let (Ok(d), Ok(p)) = (&fetched.detail, &fetched.profiles) {
        keep(t.ctx, uid, d, p).await;
    }
    Arc::new(fetched)
}

/// Writes what was fetched into the mirror; a failure only costs the next read a fetch.
async fn keep(ctx: &Ctx, uid: &Uid, detail: &[u8], profiles: &[u8]) {
    let env = ctx.env.name();
    let (Ok(detail), Ok(profiles)) = (
        serde_json::from_slice::<Value>(detail),
        String::from_utf8(profiles.to_vec()),
    ) else {
        tracing::debug!(env, %uid, "read-through answer is not JSON; not kept");
        return;
    };
    let d = crate::sync::detail::cluster_detail(&detail, profiles, &mut Default::default());
    match crate::store::enrich::cluster_details(&ctx.state.db, env, uid.as_str(), &d).await {
        Ok(true) => tracing::debug!(env, %uid, "read-through details kept in the mirror"),
        Ok(false) => {}
        Err(e) => tracing::warn!(env, %uid, error = %e, "cannot keep read-through details"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn empty(f: &Flights) -> bool {
        f.under_way.lock().map(|m| m.is_empty()).unwrap_or(false)
    }

    #[tokio::test]
    async fn readers_of_one_key_share_one_fetch_and_leave_nothing_behind() {
        let f = Flights::default();
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Arc::new(Fetched {
                detail: Ok(b"{}".to_vec()),
                profiles: Ok(b"{}".to_vec()),
            })
        };
        let (a, b) = (f.join("k".into()), f.join("k".into()));
        let other = f.join("other".into());
        assert!(Arc::ptr_eq(&a.cell, &b.cell));
        assert!(!Arc::ptr_eq(&a.cell, &other.cell));
        tokio::join!(a.cell.get_or_init(fetch), b.cell.get_or_init(fetch));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        drop((a, b));
        // A reader that went away before any answer leaves nothing either.
        drop(other);
        assert!(empty(&f));
    }
}
