//! `GET /health`: liveness, unauthenticated. `status` stays `ok` while the process serves
//! (the mirror still answers when Palette fails); `sync` and `environments` tell whether each
//! environment's sync is failing, without error text (the route is public: details are in
//! `/sync/status`); `replica` names the replica that answered (behind a load balancer).

use actix_web::HttpResponse;
use actix_web::web::Data;
use serde_json::json;

use crate::service::AppState;

pub async fn health(state: Data<AppState>) -> HttpResponse {
    let mut failing = false;
    let environments: Vec<_> = state
        .envs
        .all()
        .iter()
        .map(|e| {
            let s = state.sync.env_state(e.name());
            let sync = match (s.last_attempt_failed, s.last_success_at) {
                (true, _) => "failing",
                (false, Some(_)) => "ok",
                (false, None) => "pending",
            };
            failing |= s.last_attempt_failed;
            json!({
                "name": e.name(),
                "sync": sync,
                // Here or on another replica (as the leader watch last saw it).
                "running": s.running.is_some() || s.running_elsewhere,
                "stale": state.sync.freshness(e.name()).stale,
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "replica": state.sync.replica(),
        "sync": if failing { "failing" } else { "ok" },
        "environments": environments,
    }))
}
