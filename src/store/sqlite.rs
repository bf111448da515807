//! Opening the embedded backend: one SQLite file in WAL mode, a single writer connection and a
//! pool of read-only readers.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Pools, StoreError, maintenance};
use crate::config::DatabaseConfig;

/// The SQLite schema.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// WAL size kept after a checkpoint (SQLite truncates a larger file back to this).
const JOURNAL_SIZE_LIMIT: &str = "67108864";

/// Opens (creating if needed) the file, switches it to WAL, checks it and runs the migrations
/// before any reader connects.
pub async fn open(config: &DatabaseConfig) -> Result<Pools, StoreError> {
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
        .foreign_keys(true)
        .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT);

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
        .map_err(|e| match maintenance::corruption(&e) {
            Some(problem) => maintenance::corrupt(&path, vec![problem]),
            None => StoreError::Open(e),
        })?;
    // Before migrations touch it: a corrupt file must not be served (or written) silently.
    if let Err(problems) = maintenance::quick_check(&writer).await {
        writer.close().await;
        return Err(maintenance::corrupt(&path, problems));
    }
    MIGRATOR.run(&writer).await.map_err(StoreError::migrate)?;
    // An index a migration just added has no statistics until the next applied sync, and
    // the planner then guesses (the reverse lookup went from 7 ms to 66 ms at 10,000
    // clusters). Sampled, so it takes milliseconds.
    let stats = StatsRefreshed::default();
    refresh_statistics(&writer, &stats)
        .await
        .map_err(StoreError::Open)?;

    let fresh = stats.clone();
    let reader = SqlitePoolOptions::new()
        .max_connections(config.max_readers)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        // A reader plans with the statistics of the moment it opened: one opened before the
        // last refresh is closed and another opened in its place.
        .before_acquire(move |_, meta| {
            let current = !fresh.predates(meta.age);
            Box::pin(async move { Ok(current) })
        })
        .connect_with(base.read_only(true))
        .await
        .map_err(StoreError::Open)?;
    Ok(Pools::Sqlite {
        writer,
        reader,
        path,
        stats,
    })
}

/// When this process last refreshed the planner's statistics. SQLite loads them only as a
/// connection opens, so a reader kept open since the mirror was empty would plan every query
/// for empty tables (the reverse lookup scanned every profile ref: 15–90 ms instead of 0.3).
#[derive(Clone, Debug, Default)]
pub struct StatsRefreshed(Arc<Mutex<Option<Instant>>>);

impl StatsRefreshed {
    fn mark(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Whether a connection opened `age` ago predates the last refresh.
    fn predates(&self, age: Duration) -> bool {
        match *self.0.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(at) => at.elapsed() < age,
            None => false,
        }
    }
}

/// `ANALYZE` on a sample per index (`analysis_limit`), so it takes milliseconds; readers
/// opened before are replaced at their next use.
pub(super) async fn refresh_statistics(
    writer: &SqlitePool,
    stats: &StatsRefreshed,
) -> Result<(), sqlx::Error> {
    let mut conn = writer.acquire().await?;
    sqlx::query("PRAGMA analysis_limit = 1000")
        .execute(&mut *conn)
        .await?;
    sqlx::query("ANALYZE").execute(&mut *conn).await?;
    stats.mark();
    Ok(())
}
