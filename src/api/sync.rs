//! `GET /sync/status` and `POST /sync`: mirror freshness per environment, and a manual trigger.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::extract::{OptionalInstance, User};
use crate::app::AppState;
use crate::auth::{Caller, audit};
use crate::error::AppResult;
use crate::store::sync_runs::{self, RunRecord};
use crate::sync::{RunningRun, Trigger};

#[derive(Serialize)]
struct EnvStatus {
    name: String,
    url: String,
    schedule: String,
    running: Option<RunningRun>,
    last_success_at: Option<String>,
    stale: bool,
    stale_after_seconds: u64,
    last_run: Option<RunRecord>,
    last_success: Option<RunRecord>,
}

pub async fn status(state: web::Data<AppState>, only: OptionalInstance) -> AppResult<HttpResponse> {
    let mut out = Vec::new();
    for env in state.envs.all() {
        if only.0.as_ref().is_some_and(|o| o.name() != env.name()) {
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
            last_success_at: fresh
                .synced_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            stale: fresh.stale,
            stale_after_seconds: state.config.sync.stale_after_seconds,
            last_run,
            last_success,
        });
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "environments": out })))
}

/// Starts a run of the chosen environment (all when `instance` is absent): 202 with the run
/// ids; an environment already syncing answers with its running run.
pub async fn trigger(
    state: web::Data<AppState>,
    only: OptionalInstance,
    caller: Caller,
    user: User,
) -> AppResult<HttpResponse> {
    let mut runs = Vec::new();
    for env in state.envs.all() {
        if only.0.as_ref().is_some_and(|o| o.name() != env.name()) {
            continue;
        }
        let t = state.sync.trigger(env.name(), Trigger::Manual).await;
        audit::record(
            &state.db,
            audit::Event {
                subject: &caller.subject,
                user: Some(&user.0),
                action: audit::Action::SyncTrigger,
                env: env.name(),
                object_uid: None,
                success: t.is_ok(),
                detail: Some(match &t {
                    Ok(t) => format!("run {} ({})", t.run_id, t.status),
                    Err(e) => format!("not started: {e}"),
                }),
            },
        )
        .await;
        runs.push(t.map_err(|e| crate::error::AppError::internal("starting a sync run", e))?);
    }
    Ok(HttpResponse::Accepted().json(serde_json::json!({ "runs": runs })))
}
