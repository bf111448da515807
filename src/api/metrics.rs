//! `GET /metrics` (outside the base path, authenticated like every route but `/health`):
//! Prometheus text from the `metrics` recorder (`crate::recorder`): sync freshness and
//! outcomes, mirror sizes and cached tokens (set when scraped), Palette requests, call latency
//! and 429s per rate-limit prefix, and HTTP answers (counted as they happen).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse, web};

use crate::error::{AppError, AppResult};
use crate::service::AppState;

/// Counts every answer by its route pattern (never the raw path: uids would explode the series).
pub async fn count(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let app = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.envs.app().to_string());
    // Only known methods get their own series: anyone can send `FOO1`, `FOO2`, ...
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD" | "OPTIONS") => m.to_string(),
        _ => "OTHER".to_string(),
    };
    let pattern = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let started = std::time::Instant::now();
    let res = next.call(req).await?.map_into_boxed_body();
    if let Some(app) = app {
        let status = res.status().as_u16();
        metrics::histogram!("spectrocloud_http_request_duration_seconds", "app" => app.clone(),
            "method" => method.clone(), "route" => pattern.clone(),
            "status_class" => status_class(status))
        .record(started.elapsed().as_secs_f64());
        metrics::counter!("spectrocloud_http_requests_total", "app" => app, "method" => method,
            "route" => pattern, "status" => status.to_string())
        .increment(1);
    }
    Ok(res)
}

/// `2xx`, `4xx`, ...: the histogram's label (a series per exact status would multiply buckets).
fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(
        "spectrocloud_sync_last_success_timestamp_seconds",
        "End of the last successful sync (Unix time; 0 = never)."
    );
    describe_gauge!(
        "spectrocloud_sync_stale",
        "1 when mirror answers of the environment carry X-SpectroCloud-Stale."
    );
    describe_gauge!(
        "spectrocloud_sync_running",
        "1 while a sync run of the environment is under way."
    );
    describe_counter!(
        "spectrocloud_sync_runs_total",
        "Sync runs recorded, by outcome."
    );
    describe_gauge!(
        "spectrocloud_mirror_objects",
        "Objects in the mirror, by kind."
    );
    describe_counter!(
        "spectrocloud_palette_requests_total",
        "Requests sent to Palette (every attempt), since start."
    );
    describe_histogram!(
        "spectrocloud_palette_call_duration_seconds",
        "Palette request latency (one attempt), by rate-limit prefix and outcome."
    );
    describe_counter!(
        "spectrocloud_palette_throttled_total",
        "429 answers from Palette, by rate-limit prefix."
    );
    describe_gauge!(
        "spectrocloud_palette_rate_per_second",
        "The rate this client currently keeps to, by rate-limit prefix (drops after a 429)."
    );
    describe_gauge!(
        "spectrocloud_palette_user_tokens",
        "Palette user session tokens cached."
    );
    describe_counter!(
        "spectrocloud_http_requests_total",
        "HTTP answers, by method, route and status."
    );
    describe_histogram!(
        "spectrocloud_http_request_duration_seconds",
        "Time to the answer's head (body streaming excluded), by method, route pattern and status class."
    );
    describe_gauge!(
        "spectrocloud_response_cache_bytes",
        "Memory held by the response cache (bodies, compressed forms, keys)."
    );
    describe_gauge!(
        "spectrocloud_response_cache_entries",
        "Answers held by the response cache."
    );
    describe_counter!(
        "spectrocloud_response_cache_total",
        "Cacheable mirror reads answered from the response cache (hit) or built (miss)."
    );
    describe_counter!(
        "spectrocloud_response_cache_rebuilds_total",
        "Cache-Control: no-cache requests: built anew (built), joined a build in flight (joined), \
         or served the caller's own rebuild of the interval (limited)."
    );
}

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
    describe();
    let app = state.envs.app().to_string();
    scrape_gauges(&state, &app).await?;
    if let Some(c) = req.app_data::<web::Data<super::cache::ResponseCache>>() {
        metrics::gauge!("spectrocloud_response_cache_bytes", "app" => app.clone())
            .set(c.bytes() as f64);
        metrics::gauge!("spectrocloud_response_cache_entries", "app" => app.clone())
            .set(c.len() as f64);
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::recorder::render(&app)))
}

/// Values read when scraped: freshness, runs, mirror sizes, pacing rates, cached tokens.
async fn scrape_gauges(state: &AppState, app: &str) -> AppResult<()> {
    use metrics::{counter, gauge};
    for env in state.envs.all() {
        let name = env.name().to_string();
        let labels = [("app", app.to_string()), ("environment", name.clone())];
        let f = state.sync.freshness(env.name());
        gauge!("spectrocloud_sync_last_success_timestamp_seconds", &labels)
            .set(f.synced_at.map(|t| t.timestamp()).unwrap_or(0) as f64);
        gauge!("spectrocloud_sync_stale", &labels).set(f.stale as u8 as f64);
        let running = state.sync.env_state(env.name()).running.is_some();
        gauge!("spectrocloud_sync_running", &labels).set(running as u8 as f64);
        for (kind, n) in crate::store::mirror_sizes(&state.db, env.name()).await? {
            gauge!("spectrocloud_mirror_objects", "app" => app.to_string(),
                "environment" => name.clone(), "kind" => kind)
            .set(n as f64);
        }
        for (prefix, _, rate) in env.client.pacer().snapshot() {
            gauge!("spectrocloud_palette_rate_per_second", "app" => app.to_string(),
                "environment" => name.clone(), "prefix" => prefix)
            .set(rate);
        }
    }
    for r in crate::store::sync_runs::outcome_counts(&state.db).await? {
        counter!("spectrocloud_sync_runs_total", "app" => app.to_string(),
            "environment" => r.env, "outcome" => r.outcome)
        .absolute(r.runs.max(0) as u64);
    }
    gauge!("spectrocloud_palette_user_tokens", "app" => app.to_string())
        .set(state.tokens.len() as f64);
    Ok(())
}
