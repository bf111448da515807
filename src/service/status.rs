//! Mirror freshness per environment (`GET /sync/status`, the sync-status tool).

use serde::Serialize;

use crate::app::AppState;
use crate::error::AppResult;
use crate::store::sync_runs::{self, RunRecord};
use crate::sync::RunningRun;

#[derive(Serialize)]
pub struct EnvStatus {
    pub name: String,
    pub url: String,
    pub schedule: String,
    pub running: Option<RunningRun>,
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
}

/// Every environment, or only `only`.
pub async fn sync_status(state: &AppState, only: Option<&str>) -> AppResult<Vec<EnvStatus>> {
    let mut out = Vec::new();
    for env in state.envs.all() {
        if only.is_some_and(|o| o != env.name()) {
            continue;
        }
        state.sync.reload(env.name()).await?;
        let (last_run, last_success) = sync_runs::latest(&state.db, env.name()).await?;
        let fresh = state.sync.freshness(env.name());
        out.push(EnvStatus {
            name: env.name().to_string(),
            url: crate::config::redact_url(&env.config.url),
            schedule: env.config.schedule(&state.config.sync).to_string(),
            running: state.sync.env_state(env.name()).running,
            last_success_at: fresh.last_success_at.map(text),
            listed_at: state.sync.listed_at(env.name()).map(text),
            partial: fresh.partial(),
            clusters_without_index: fresh.without_index,
            stale: fresh.stale,
            stale_after_seconds: state.config.sync.stale_after_seconds,
            last_run,
            last_success,
            held_deletions: crate::store::held::list(&state.db, env.name()).await?,
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
