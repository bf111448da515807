//! Black-box integration tests: one binary, one module per feature.

mod auth;
mod config;
mod foundation;
mod helpers;
mod mcp;
mod progressive;
mod routes;
mod sim;
mod sync;
