//! `GET /sync/status` and `POST /sync`: mirror freshness per environment, and a manual trigger.

use actix_web::{HttpResponse, web};

use super::extract::{OptionalInstance, User};
use crate::app::AppState;
use crate::auth::{Caller, audit};
use crate::error::AppResult;
use crate::sync::Trigger;

pub async fn status(state: web::Data<AppState>, only: OptionalInstance) -> AppResult<HttpResponse> {
    let only = only.0.as_ref().map(|e| e.name());
    let out = crate::service::status::sync_status(&state, only).await?;
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
