//! Black-box integration tests: one binary, one module per feature.

mod config;
mod foundation;
mod helpers;
mod sim;
mod sync;
