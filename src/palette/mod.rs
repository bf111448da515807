//! The Palette REST client, the configured environments, and what the service knows of
//! Palette's JSON.

pub mod client;
mod environment;
mod error;
pub mod models;
pub mod pacing;
pub mod scrub;

// The documented limits are a fact about Palette that config, the client and the simulator
// all read; `domain` re-exports their crate so that config need not import the client.
pub use crate::domain::limits;
pub use client::{Credential, Listing, PaletteClient, Retries};
pub use environment::{Environment, Environments};
pub use error::PaletteError;
pub use pacing::Priority;
pub use scrub::scrub;

/// Metrics of one attempt: latency per prefix and outcome, requests, and 429s per prefix.
pub(crate) fn record_call(
    app: &str,
    env: &str,
    prefix: &str,
    result: &Result<client::Answer, PaletteError>,
    took: std::time::Duration,
) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(PaletteError::Throttled { .. }) => "throttled",
        Err(PaletteError::NotFound { .. }) => "not_found",
        Err(PaletteError::Timeout { .. }) => "timeout",
        Err(PaletteError::Unreachable { .. }) => "unreachable",
        Err(PaletteError::Upstream { .. }) => "server_error",
        Err(PaletteError::Untrusted { .. } | PaletteError::TooLarge { .. }) => "bad_answer",
        Err(_) => "client_error",
    };
    let (app, env, prefix) = (app.to_string(), env.to_string(), prefix.to_string());
    metrics::counter!("spectrocloud_palette_requests_total",
        "app" => app.clone(), "environment" => env.clone())
    .increment(1);
    metrics::histogram!("spectrocloud_palette_call_duration_seconds",
        "app" => app.clone(), "environment" => env.clone(), "prefix" => prefix.clone(),
        "outcome" => outcome)
    .record(took.as_secs_f64());
    if outcome == "throttled" {
        metrics::counter!("spectrocloud_palette_throttled_total",
            "app" => app, "environment" => env, "prefix" => prefix)
        .increment(1);
    }
}
