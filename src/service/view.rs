//! The one decision of every read: the mirror (with the caller's visibility and the data's
//! freshness), or — before the environment's first sync has finished, while Palette answers —
//! Palette itself.

use std::time::Duration;

use serde::Serialize;

use super::{Answer, Ctx, through::Through};
use crate::auth::scope::{self, Filter, Kind, Visibility};
use crate::error::{AppError, ErrorCode};
use crate::service::AppState;
use crate::store::{Listed, Page, json_object, list_json};
use crate::sync::{Freshness, Trigger};

/// A read answered from the mirror.
pub struct Mirror<'a> {
    pub ctx: &'a Ctx,
    pub vis: Visibility,
    pub freshness: Freshness,
}

/// How a read is answered.
pub enum View<'a> {
    Mirror(Mirror<'a>),
    Through(Through<'a>),
}

/// Whether an environment's mirror can answer yet.
pub enum Readiness {
    /// It holds a whole snapshot.
    Mirror(Freshness),
    /// No snapshot yet, but Palette is not known to be unreachable: ask it directly.
    ReadThrough,
}

impl Ctx {
    /// Mirror or read-through, decided once for the read.
    pub async fn view(&self) -> Result<View<'_>, AppError> {
        let s = &self.state;
        let readiness = first_sync(s, self.env.name()).await?;
        let vis = scope::resolve(&s.db, &s.scopes, &s.tokens, &self.env, &self.user).await?;
        Ok(match readiness {
            Readiness::Mirror(freshness) => View::Mirror(Mirror {
                ctx: self,
                vis,
                freshness,
            }),
            Readiness::ReadThrough => View::Through(Through { ctx: self, vis }),
        })
    }

    /// For answers only the mirror can give (the reverse lookup, reports): 503 `not_synced`
    /// until the first sync has finished.
    pub async fn mirror(&self) -> Result<Mirror<'_>, AppError> {
        match self.view().await? {
            View::Mirror(m) => Ok(m),
            View::Through(_) => Err(needs_mirror(self.env.name())),
        }
    }
}

impl Mirror<'_> {
    pub fn env(&self) -> &str {
        self.ctx.env.name()
    }

    pub fn db(&self) -> &crate::store::Db {
        &self.ctx.state.db
    }

    pub fn filter(&self, kind: Kind) -> Filter {
        self.vis.filter(kind)
    }

    /// Whether an object of `kind` owned by `owner` (None = tenant) may be shown: the caller
    /// sees it, and with `projectUid` it belongs to that project or to the tenant (as Palette
    /// answers under a `ProjectUid` header).
    pub fn shows(&self, kind: Kind, owner: Option<&str>, asked: Option<&str>) -> bool {
        let elsewhere = matches!((asked, owner), (Some(p), Some(q)) if p != q);
        self.vis.sees(kind, owner) && !elsewhere
    }

    /// Stored JSON text as the answer.
    pub fn raw(&self, text: String) -> Answer {
        Answer::mirror(self.freshness, text)
    }

    /// `{"<key>": [stored items...]}`.
    pub fn list(&self, key: &str, items: &[String]) -> Answer {
        self.raw(crate::store::json_list(key, items))
    }

    pub fn json<T: Serialize>(&self, body: &T) -> Result<Answer, AppError> {
        Ok(self.raw(super::to_text(body)?))
    }

    /// `{"<key>": [...]}` of a listed kind the caller may see.
    pub async fn listed(
        &self,
        key: &str,
        what: Listed,
        kind: Kind,
        project: Option<&str>,
        page: Page,
    ) -> Result<Answer, AppError> {
        let f = self.filter(kind);
        let array = list_json(self.db(), what, self.env(), project, &f, page).await?;
        Ok(self.raw(json_object(key, &array)))
    }
}

/// How long a mirror read waits for an environment's first sync before reading through.
const FIRST_SYNC_WAIT: Duration = Duration::from_secs(10);
/// Reads start a first sync at most this often.
const FIRST_SYNC_PACE: Duration = Duration::from_secs(5);

/// Before the first successful sync there is no data: start a sync if none runs and wait for
/// it a little. If it did not succeed, read through to Palette — unless Palette could not be
/// reached, which is 503 `not_synced`.
pub async fn first_sync(state: &AppState, env: &str) -> Result<Readiness, AppError> {
    let fresh = state.sync.freshness(env);
    if fresh.synced_at.is_some() {
        return Ok(Readiness::Mirror(fresh));
    }
    // Another process (`sync --once`) may have synced it.
    state.sync.reload(env).await?;
    let fresh = state.sync.freshness(env);
    if fresh.synced_at.is_some() {
        return Ok(Readiness::Mirror(fresh));
    }
    start_first_sync(state, env).await;
    wait_first_sync(state, env).await;
    let fresh = state.sync.freshness(env);
    if fresh.synced_at.is_some() {
        return Ok(Readiness::Mirror(fresh));
    }
    if !state.sync.env_state(env).unreachable {
        return Ok(Readiness::ReadThrough);
    }
    let (last, _) = crate::store::sync_runs::latest(&state.db, env).await?;
    let why = last
        .and_then(|r| r.error)
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    Err(not_synced(env, &why))
}

/// Starts a run unless one runs or ended moments ago: a burst of reads while Palette is down
/// must not turn into a burst of runs.
async fn start_first_sync(state: &AppState, env: &str) {
    let s = state.sync.env_state(env);
    let recently = s
        .last_attempt_ended
        .is_some_and(|t| t.elapsed() < FIRST_SYNC_PACE);
    if s.running.is_none()
        && !recently
        && let Err(e) = state.sync.trigger(env, Trigger::Startup).await
    {
        tracing::warn!(env, error = %e, "cannot start the first sync");
    }
}

/// Waits for the run until it is FIRST_SYNC_WAIT old: a read arriving late in a long first
/// sync reads through at once instead of waiting the full time again.
async fn wait_first_sync(state: &AppState, env: &str) {
    let started = std::time::Instant::now();
    while let Some(run) = state.sync.env_state(env).running {
        let age = chrono::DateTime::parse_from_rfc3339(&run.started_at)
            .map(|t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                    .to_std()
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        if age.max(started.elapsed()) >= FIRST_SYNC_WAIT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// 503 `not_synced`: no mirrored data for `env` yet (`why` starts with ": " when given).
pub fn not_synced(env: &str, why: &str) -> AppError {
    AppError::new(
        ErrorCode::NotSynced,
        format!("no data yet for environment `{env}`{why}"),
    )
    .with_retry_after(5)
}

fn needs_mirror(env: &str) -> AppError {
    not_synced(
        env,
        ": the first sync has not finished, and this answer needs the mirror",
    )
}

/// The mirror's freshness, or 503 `not_synced` while its first sync is still under way.
pub async fn mirror_ready(state: &AppState, env: &str) -> Result<Freshness, AppError> {
    match first_sync(state, env).await? {
        Readiness::Mirror(f) => Ok(f),
        Readiness::ReadThrough => Err(needs_mirror(env)),
    }
}
