//! The shared state every request handler, tool and worker reads: the service's context.
//! It lives here, not in the composition root (`app.rs`), so that adapters and the service
//! import what they need without importing the code that wires them.

use std::sync::Arc;

use crate::auth::Authenticator;
use crate::auth::palette_user::TokenCache;
use crate::auth::scope::ScopeCache;
use crate::config::Config;
use crate::palette::Environments;
use crate::store::Db;
use crate::sync::SyncEngine;

/// Everything a request handler or worker needs. Shared behind `web::Data` (an `Arc`).
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub envs: Environments,
    pub sync: Arc<SyncEngine>,
    pub auth: Authenticator,
    /// Palette user session tokens by email.
    pub tokens: TokenCache,
    /// What each Palette user may see.
    pub scopes: ScopeCache,
    /// Read-through fetches under way, shared by identical reads.
    pub flights: super::enrich::Flights,
}
