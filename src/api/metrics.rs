//! `GET /metrics` (outside the base path, authenticated like every route but `/health`):
//! Prometheus text exposition of sync freshness and outcomes, mirror sizes, Palette calls and
//! HTTP answers.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse, web};
use sqlx::Row;

use crate::app::AppState;
use crate::error::{AppError, AppResult};

/// Answers per (method, route pattern, status).
#[derive(Default)]
pub struct RequestCounts(Mutex<BTreeMap<(String, String, u16), u64>>);

/// Counts every answer by its route pattern (never the raw path: uids would explode the series).
pub async fn count(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    // Only known methods get their own series: anyone can send `FOO1`, `FOO2`, ...
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS") => m.to_string(),
        _ => "OTHER".to_string(),
    };
    let pattern = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let res = next.call(req).await?.map_into_boxed_body();
    if let Some(state) = state
        && let Ok(mut counts) = state.http_requests.0.lock()
    {
        *counts
            .entry((method, pattern, res.status().as_u16()))
            .or_insert(0) += 1;
    }
    Ok(res)
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

const KINDS: [(&str, &str); 8] = [
    ("projects", "projects"),
    ("clusters", "clusters"),
    ("virtual_clusters", "virtual_clusters"),
    ("profiles", "cluster_profiles"),
    ("profile_versions", "profile_versions"),
    ("cloud_accounts", "cloud_accounts"),
    ("overlords", "overlords"),
    ("cluster_groups", "cluster_groups"),
];

pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if state.auth.authenticate(auth).await.is_err() {
        return Err(AppError::unauthenticated(
            "authentication required: send Authorization: Bearer <token>",
        ));
    }
    let mut out = String::new();
    family(
        &mut out,
        "spectrocloud_sync_last_success_timestamp_seconds",
        "gauge",
        "End of the last successful sync (Unix time; 0 = never).",
    );
    for env in state.envs.all() {
        let f = state.sync.freshness(env.name());
        let _ = writeln!(
            out,
            "spectrocloud_sync_last_success_timestamp_seconds{{environment=\"{}\"}} {}",
            escape(env.name()),
            f.synced_at.map(|t| t.timestamp()).unwrap_or(0)
        );
    }
    family(
        &mut out,
        "spectrocloud_sync_stale",
        "gauge",
        "1 when mirror answers of the environment carry X-SpectroCloud-Stale.",
    );
    for env in state.envs.all() {
        let stale = state.sync.freshness(env.name()).stale as u8;
        let _ = writeln!(
            out,
            "spectrocloud_sync_stale{{environment=\"{}\"}} {stale}",
            escape(env.name())
        );
    }
    family(
        &mut out,
        "spectrocloud_sync_running",
        "gauge",
        "1 while a sync run of the environment is under way.",
    );
    for env in state.envs.all() {
        let running = state.sync.env_state(env.name()).running.is_some() as u8;
        let _ = writeln!(
            out,
            "spectrocloud_sync_running{{environment=\"{}\"}} {running}",
            escape(env.name())
        );
    }

    family(
        &mut out,
        "spectrocloud_sync_runs_total",
        "counter",
        "Sync runs recorded, by outcome.",
    );
    let runs = sqlx::query(
        "SELECT env, outcome, count(*) FROM sync_runs WHERE outcome != 'running' GROUP BY env, outcome ORDER BY env, outcome",
    )
    .fetch_all(&state.db.reader)
    .await?;
    for r in runs {
        let _ = writeln!(
            out,
            "spectrocloud_sync_runs_total{{environment=\"{}\",outcome=\"{}\"}} {}",
            escape(r.get(0)),
            escape(r.get(1)),
            r.get::<i64, _>(2)
        );
    }
    family(
        &mut out,
        "spectrocloud_mirror_objects",
        "gauge",
        "Objects in the mirror, by kind.",
    );
    for env in state.envs.all() {
        for (kind, table) in KINDS {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {table} WHERE env = ?"
            )))
            .bind(env.name())
            .fetch_one(&state.db.reader)
            .await?;
            let _ = writeln!(
                out,
                "spectrocloud_mirror_objects{{environment=\"{}\",kind=\"{kind}\"}} {n}",
                escape(env.name())
            );
        }
    }
    family(
        &mut out,
        "spectrocloud_palette_requests_total",
        "counter",
        "Requests sent to Palette (every attempt), since start.",
    );
    for env in state.envs.all() {
        let _ = writeln!(
            out,
            "spectrocloud_palette_requests_total{{environment=\"{}\"}} {}",
            escape(env.name()),
            env.client.calls()
        );
    }
    family(
        &mut out,
        "spectrocloud_palette_user_tokens",
        "gauge",
        "Palette user session tokens cached.",
    );
    let _ = writeln!(
        out,
        "spectrocloud_palette_user_tokens {}",
        state.tokens.len()
    );
    family(
        &mut out,
        "spectrocloud_http_requests_total",
        "counter",
        "HTTP answers, by method, route and status.",
    );
    if let Ok(counts) = state.http_requests.0.lock() {
        for ((method, route, status), n) in counts.iter() {
            let _ = writeln!(
                out,
                "spectrocloud_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(method),
                escape(route)
            );
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out))
}
