//! The SQLite mirror: one writer connection and a pool of read-only readers over one WAL file.
//! Queries live in one module per resource; list answers are built from stored JSON text.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::config::DatabaseConfig;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database url `{url}`: {message}")]
    Url { url: String, message: String },
    #[error("cannot create database directory {path}: {message}")]
    Directory { path: String, message: String },
    #[error("cannot open database: {0}")]
    Open(#[source] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// Handles to the mirror. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    /// The single writer connection: serialises writes inside the process; `BEGIN IMMEDIATE`
    /// guards against other processes.
    pub writer: SqlitePool,
    /// Read-only connections; in WAL mode they never wait on the writer.
    pub reader: SqlitePool,
    pub path: PathBuf,
}

impl Db {
    /// Opens (creating if needed) the database, switches it to WAL and runs the migrations
    /// before any reader connects.
    pub async fn open(config: &DatabaseConfig) -> Result<Db, StoreError> {
        let base = SqliteConnectOptions::from_str(&config.url).map_err(|e| StoreError::Url {
            url: config.url.clone(),
            message: e.to_string(),
        })?;
        let path = base.get_filename().to_path_buf();
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Directory {
                path: dir.display().to_string(),
                message: e.to_string(),
            })?;
        }
        let base = base
            .busy_timeout(Duration::from_secs(5))
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true);

        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(
                base.clone()
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .optimize_on_close(true, None),
            )
            .await
            .map_err(StoreError::Open)?;
        sqlx::migrate!("./migrations")
            .run(&writer)
            .await
            .map_err(StoreError::Migrate)?;

        let reader = SqlitePoolOptions::new()
            .max_connections(config.max_readers)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(base.read_only(true))
            .await
            .map_err(StoreError::Open)?;
        Ok(Db {
            writer,
            reader,
            path,
        })
    }

    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// Current time as stored in the mirror (RFC 3339, UTC, milliseconds).
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub mod snapshot;
pub mod sync_runs;
