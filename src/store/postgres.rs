//! Opening the PostgreSQL backend: one pool shared by reads and writes (PostgreSQL runs them
//! concurrently itself), the schema brought up to date under the migrator's advisory lock so
//! replicas starting together migrate once.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::{Pools, StoreError};
use crate::config::DatabaseConfig;

/// Connections beyond the readers: the sync's write transaction, the webhook worker, the
/// generation listener's reconnects and bookkeeping writes.
const WRITE_CONNECTIONS: u32 = 4;

pub use crate::config::redacted_url as redacted;

/// The PostgreSQL schema, version for version the twin of SQLite's.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

pub fn options(url: &str) -> Result<PgConnectOptions, StoreError> {
    PgConnectOptions::from_str(url).map_err(|e| StoreError::Url {
        url: redacted(url),
        message: e.to_string(),
    })
}

pub async fn open(config: &DatabaseConfig) -> Result<Pools, StoreError> {
    let options = options(&config.url)?.application_name("spectrocloud-backend");
    let pool = PgPoolOptions::new()
        .max_connections(config.max_readers + WRITE_CONNECTIONS)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| StoreError::Unreachable {
            url: redacted(&config.url),
            message: e.to_string(),
        })?;
    MIGRATOR.run(&pool).await.map_err(StoreError::migrate)?;
    Ok(Pools::Postgres { pool })
}
