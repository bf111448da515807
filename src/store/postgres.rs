//! Opening the PostgreSQL backend: one pool shared by reads and writes (PostgreSQL runs them
//! concurrently itself), the schema brought up to date under the migrator's advisory lock so
//! replicas starting together migrate once.

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
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
    // One connection first: its failure names what stands in the way (a refused port, a
    // wrong password, a missing database), where the pool would only time out.
    let first = first_connection(&options).await?;
    let _ = sqlx::Connection::close(first).await;
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

/// How long a start-up waits for a PostgreSQL that is not up yet (started beside it).
const STARTING: Duration = Duration::from_secs(10);

/// The first connection, waited for while the server is unreachable or starting up (a replica
/// started together with its database); a wrong user, password or database fails at once.
async fn first_connection(options: &PgConnectOptions) -> Result<sqlx::PgConnection, StoreError> {
    let deadline = tokio::time::Instant::now() + STARTING;
    loop {
        match super::check::connect_postgres(options).await {
            Ok(c) => return Ok(c),
            Err(p) if p.may_pass() && tokio::time::Instant::now() < deadline => {
                tracing::info!(problem = %p, "waiting for PostgreSQL");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(p) => return Err(StoreError::Postgres(p.to_string())),
        }
    }
}

/// `ANALYZE` of the mirror's own tables: those of its schema that its role owns (what it may
/// analyze). A bare `ANALYZE` visits every table of the database, and a role that owns only
/// the mirror's gets a warning for each shared catalog (or another application's table) it may
/// not analyze, at every sync. Tables someone else owns are left to autovacuum.
pub(super) async fn refresh_statistics(pool: &PgPool) -> Result<(), sqlx::Error> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables \
         WHERE schemaname = current_schema() AND tableowner = current_user \
         AND tablename <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await?;
    if tables.is_empty() {
        return Ok(());
    }
    let sql = format!("ANALYZE {}", tables.join(", "));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await?;
    Ok(())
}
