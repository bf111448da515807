//! `GET /sync/status` and `POST /sync`: mirror freshness per environment, and a manual trigger.

use actix_web::{HttpResponse, web};

use super::extract::{OptionalInstance, User};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::AppResult;

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
    let only = only.0.as_ref().map(|e| e.name());
    let runs = crate::service::status::trigger(&state, &caller.subject, &user.0, only).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({ "runs": runs })))
}
