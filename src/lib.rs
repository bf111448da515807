//! spectrocloud-backend: a fast, reliable API over Spectro Cloud Palette, served from a local
//! SQLite mirror kept fresh by background sync. See ARCHITECTURE.md for the code map.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod create;
pub mod domain;
pub mod error;
pub mod mcp;
pub mod memory;
pub mod palette;
pub mod recorder;
pub mod service;
pub mod signal;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod ui;
