//! Mirror freshness per environment (`GET /sync/status`, the sync-status tool).

use serde::Serialize;

use actix_web::http::header::HeaderMap;

use crate::auth::Caller;
use crate::auth::palette_user::{self, PaletteUser};
use crate::error::AppResult;
use crate::service::AppState;
use crate::store::leases::Leader;
use crate::store::sync_runs::{self, RunRecord};
use crate::sync::RunningRun;
use crate::sync::progress::ProgressView;

#[derive(Serialize)]
pub struct EnvStatus {
    pub name: String,
    pub url: String,
    pub schedule: String,
    /// The replica whose run holds the environment's lease now (this one or another); null
    /// between runs.
    pub leader: Option<LeaderStatus>,
    pub running: Option<RunningStatus>,
    /// When the last run that completed ended; empty until one has.
    pub last_success_at: Option<String>,
    /// When a run last applied its listings: the mirror answers from then on, while the
    /// details of a first run are still arriving.
    pub listed_at: Option<String>,
    /// Answers that count clusters by profile or pack are partial: some listed clusters'
    /// profiles and packs are still being fetched.
    pub partial: bool,
    pub clusters_without_index: u64,
    pub stale: bool,
    pub stale_after_seconds: u64,
    pub last_run: Option<RunRecord>,
    pub last_success: Option<RunRecord>,
    /// Deletions held back because a listing would have removed most of a kind at once;
    /// the next run that lists the same absence deletes them.
    pub held_deletions: Vec<crate::store::held::Held>,
    /// The environment requires a Palette user token and the caller has none usable for it:
    /// every count of its objects (runs, progress, held deletions) is left out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub counts_withheld: bool,
}

/// Who leads an environment's sync, until when (renewed while the run lasts).
#[derive(Serialize)]
pub struct LeaderStatus {
    pub replica: String,
    pub expires_at: String,
}

impl From<Leader> for LeaderStatus {
    fn from(l: Leader) -> Self {
        LeaderStatus {
            expires_at: l.expires_at(),
            replica: l.holder,
        }
    }
}

/// A run under way, as a status shows it.
#[derive(Serialize)]
pub struct RunningStatus {
    pub id: i64,
    pub trigger: crate::sync::Trigger,
    pub started_at: String,
    /// The replica (or `sync --once` process) running it.
    pub replica: String,
    /// Phase, done/total per kind, Palette calls, estimate of the time left (null where
    /// counts are withheld, and on other replicas than the one running it: ask that one).
    pub progress: Option<ProgressView>,
}

impl RunningStatus {
    fn here(r: RunningRun, replica: &str) -> Self {
        RunningStatus {
            id: r.id,
            trigger: r.trigger,
            started_at: r.started_at,
            replica: replica.to_string(),
            progress: r.progress.view(),
        }
    }

    /// A run another process records as under way.
    fn elsewhere(r: RunRecord, leader: &str) -> Option<Self> {
        Some(RunningStatus {
            id: r.id,
            trigger: crate::sync::Trigger::parse(&r.trigger)?,
            started_at: r.started_at,
            replica: r.replica.unwrap_or_else(|| leader.to_string()),
            progress: None,
        })
    }
}

/// The run of `env` under way: this replica's, else the one the lease's holder records.
async fn running(
    state: &AppState,
    env: &str,
    leader: Option<&Leader>,
) -> AppResult<Option<RunningStatus>> {
    let here = state.sync.replica();
    if let Some(r) = state.sync.env_state(env).running {
        return Ok(Some(RunningStatus::here(r, here)));
    }
    let Some(leader) = leader.filter(|l| l.holder != here) else {
        return Ok(None);
    };
    let record = sync_runs::under_way(&state.db, env).await?;
    Ok(record.and_then(|r| RunningStatus::elsewhere(r, &leader.holder)))
}

impl EnvStatus {
    /// This status without a count of Palette objects: what a caller without a usable user
    /// token may see of an environment that requires one (its freshness and run outcomes).
    fn without_counts(mut self) -> Self {
        for run in [&mut self.last_run, &mut self.last_success]
            .into_iter()
            .flatten()
        {
            run.counts = serde_json::Value::Null;
        }
        if let Some(r) = &mut self.running {
            r.progress = None;
        }
        self.clusters_without_index = 0;
        self.held_deletions.clear();
        self.counts_withheld = true;
        self
    }
}

/// The environments whose object counts a caller may not see: those requiring a Palette
/// user token, for which the request brings none Palette accepts. As on the data routes, the
/// request's token is for the environment it names (`only`, else the first): it is never sent
/// to another environment's Palette, where only a token cached for this caller counts.
pub async fn closed_to(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    only: Option<&str>,
) -> Vec<String> {
    let binding = caller.binding();
    let named = only.or_else(|| state.envs.all().first().map(|e| e.name()));
    let mut without_token = headers.clone();
    without_token.remove(palette_user::TOKEN_HEADER);
    let mut closed = Vec::new();
    for env in state.envs.all() {
        if !env.config.requires_user_token(&state.config.auth) {
            continue;
        }
        let who = palette_user::Request {
            headers: if Some(env.name()) == named {
                headers
            } else {
                &without_token
            },
            env: Some(env),
            subject: &caller.subject,
            binding: &binding,
        };
        let user = PaletteUser::resolve(who, &state.tokens, &state.scopes, &state.db).await;
        if !user.usable() {
            closed.push(env.name().to_string());
        }
    }
    closed
}

/// Every environment, or only `only`; those in `closed` without their counts.
pub async fn sync_status(
    state: &AppState,
    only: Option<&str>,
    closed: &[String],
) -> AppResult<Vec<EnvStatus>> {
    let mut out = Vec::new();
    for env in state.envs.all() {
        if only.is_some_and(|o| o != env.name()) {
            continue;
        }
        state.sync.reload(env.name()).await?;
        let (last_run, last_success) = sync_runs::latest(&state.db, env.name()).await?;
        let fresh = state.sync.freshness(env.name());
        let leader = state.sync.leader(env.name()).await?;
        let status = EnvStatus {
            name: env.name().to_string(),
            url: crate::config::redact_url(&env.config.url),
            schedule: env.config.schedule(&state.config.sync).to_string(),
            running: running(state, env.name(), leader.as_ref()).await?,
            leader: leader.map(Into::into),
            last_success_at: fresh.last_success_at.map(text),
            listed_at: state.sync.listed_at(env.name()).map(text),
            partial: fresh.partial(),
            clusters_without_index: fresh.without_index,
            stale: fresh.stale,
            stale_after_seconds: state.config.sync.stale_after_seconds,
            last_run,
            last_success,
            held_deletions: crate::store::held::list(&state.db, env.name()).await?,
            counts_withheld: false,
        };
        let closed = closed.iter().any(|c| c == env.name());
        out.push(if closed {
            status.without_counts()
        } else {
            status
        });
    }
    Ok(out)
}

fn text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Starts a manual run of `only` (every environment when absent); one already under way is
/// answered with that run. Each start is audited under `subject` (and the Palette user).
pub async fn trigger(
    state: &AppState,
    subject: &str,
    user: &crate::auth::palette_user::PaletteUser,
    only: Option<&str>,
) -> AppResult<Vec<crate::sync::Triggered>> {
    use crate::auth::audit;
    let mut runs = Vec::new();
    for env in state.envs.all() {
        if only.is_some_and(|o| o != env.name()) {
            continue;
        }
        let t = state
            .sync
            .trigger(env.name(), crate::sync::Trigger::Manual)
            .await;
        let event = audit::Event {
            subject,
            user: Some(user),
            action: audit::Action::SyncTrigger,
            env: env.name(),
            object_uid: None,
            success: t.is_ok(),
            detail: Some(match &t {
                Ok(t) => format!("run {} ({})", t.run_id, t.status),
                Err(e) => format!("not started: {e}"),
            }),
        };
        audit::record(&state.db, event).await;
        runs.push(t.map_err(|e| crate::error::AppError::internal("starting a sync run", e))?);
    }
    Ok(runs)
}
