//! Black-box integration tests: one binary, one module per feature.

mod abuse;
mod actions;
mod auth;
mod cache;
mod config;
mod create;
mod events;
mod foundation;
mod hardening;
mod helpers;
mod listing;
mod mcp;
mod pacing;
mod progressive;
mod reads;
mod readthrough;
mod reports;
mod routes;
mod safe_answers;
mod sim;
mod sync;
mod ui;
mod untrusted;
