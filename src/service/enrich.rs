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
    fn join(&self, key: &str) -> Cell {
        let mut m = match self.under_way.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        m.entry(key.to_string()).or_default().clone()
    }

    /// The fetch of `key` is done: later reads find the mirror (or, if nothing was written,
    /// fetch anew rather than reuse an old answer).
    fn done(&self, key: &str, cell: &Cell) {
        let mut m = match self.under_way.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if m.get(key).is_some_and(|c| Arc::ptr_eq(c, cell)) {
            m.remove(key);
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
    let flights = &t.ctx.state.flights;
    let key = key(t.ctx, uid, project);
    let cell = flights.join(&key);
    // A leader cancelled half-way (its caller went away) hands the fetch to a follower.
    let got = cell.get_or_init(|| fetch(t, uid, project)).await.clone();
    flights.done(&key, &cell);
    got
}

/// Both calls side by side: the answer waits for the slower, not for their sum.
async fn fetch(t: &Through<'_>, uid: &Uid, project: Option<&str>) -> Arc<Fetched> {
    let detail = t.get(format!("/v1/dashboard/spectroclusters/{uid}"), project);
    let profiles = t
        .get(format!("/v1/spectroclusters/{uid}/profiles"), project)
        .query("includePackMeta", "schema,presets");
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
    let d = crate::sync::detail::cluster_detail(&detail, profiles);
    match crate::store::enrich::cluster_details(&ctx.state.db, env, uid.as_str(), &d).await {
        Ok(true) => tracing::debug!(env, %uid, "read-through details kept in the mirror"),
        Ok(false) => {}
        Err(e) => tracing::warn!(env, %uid, error = %e, "cannot keep read-through details"),
    }
}
