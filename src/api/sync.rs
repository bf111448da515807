//! `GET /sync/status` and `POST /sync`: mirror freshness per environment, and a manual trigger.

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};

use super::extract::{OptionalInstance, User};
use super::respond::Reply;
use crate::auth::Caller;
use crate::service::AppState;
use crate::service::status;

pub async fn status(
    state: Data<AppState>,
    only: OptionalInstance,
    c: Caller,
    req: HttpRequest,
) -> Reply {
    let only = only.0.as_ref().map(|e| e.name());
    let closed = status::closed_to(&state, req.headers(), &c, only).await;
    let out = status::sync_status(&state, only, &closed).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "replica": state.sync.replica(),
        "environments": out,
    })))
}

/// Starts a run of the chosen environment (all when `instance` is absent): 202 with the run
/// ids; an environment already syncing answers with its running run.
pub async fn trigger(state: Data<AppState>, only: OptionalInstance, c: Caller, u: User) -> Reply {
    let only = only.0.as_ref().map(|e| e.name());
    let runs = status::trigger(&state, &c.subject, &u.0, only).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({ "runs": runs })))
}
