//! Upkeep of the mirror file: the integrity check at start, WAL checkpoints, online backups.

use std::path::Path;

use super::{Db, Pools, StoreError};

/// `PRAGMA quick_check` (pages, b-trees, record formats; skips the slow index cross-check).
/// Problems come back as text, at most ten; a check SQLite cannot even run is a problem too.
pub async fn quick_check(pool: &sqlx::SqlitePool) -> Result<(), Vec<String>> {
    match sqlx::query_scalar::<_, String>("PRAGMA quick_check(10)")
        .fetch_all(pool)
        .await
    {
        Ok(rows) if rows.len() == 1 && rows[0] == "ok" => Ok(()),
        Ok(rows) => Err(rows),
        Err(e) => Err(vec![e.to_string()]),
    }
}

/// What `wal_checkpoint` answers: busy (0 = complete), WAL pages, pages moved back.
#[derive(sqlx::FromRow)]
struct Checkpoint {
    busy: i64,
    log: i64,
    checkpointed: i64,
}

/// Folds the WAL back into the database and truncates it, so it does not stay as large as
/// the biggest sync ever written. A reader in the way makes it a partial checkpoint (logged;
/// the next one catches up).
pub async fn checkpoint(db: &Db) {
    // PostgreSQL checkpoints its own WAL.
    let Pools::Sqlite { writer, .. } = &db.pools else {
        return;
    };
    // A pragma with side effects has no table-valued form: its columns are read by name.
    match sqlx::query_as::<_, Checkpoint>("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(writer)
        .await
    {
        Ok(Checkpoint {
            busy: 0,
            log: pages,
            checkpointed: moved,
        }) => {
            tracing::debug!(pages, moved, "WAL checkpointed")
        }
        Ok(Checkpoint {
            log: pages,
            checkpointed: moved,
            ..
        }) => {
            tracing::info!(pages, moved, "WAL checkpoint partial: readers were busy")
        }
        Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; a backup never overwrites a file")]
    Exists(String),
    #[error("the directory {0} does not exist; create it first, or give a path in an existing one")]
    NoDirectory(String),
    // SQLite's message only, not a `source`: sqlx repeats it at every level of its chain.
    #[error("cannot write the backup to {path}: {message}")]
    Write { path: String, message: String },
    #[error(
        "`backup` copies the SQLite file; on PostgreSQL use its own tools: pg_dump --format=custom --file=PATH DATABASE_URL"
    )]
    Postgres,
}

/// An online, consistent copy of the mirror at `dest` (`VACUUM INTO`: a read transaction, so
/// the server and its sync go on meanwhile). Refuses to overwrite anything.
pub async fn backup(db: &Db, dest: &Path) -> Result<(), BackupError> {
    let shown = dest.display().to_string();
    if dest.exists() {
        return Err(BackupError::Exists(shown));
    }
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = parent.filter(|d| !d.is_dir()) {
        return Err(BackupError::NoDirectory(dir.display().to_string()));
    }
    let Pools::Sqlite { reader, .. } = &db.pools else {
        return Err(BackupError::Postgres);
    };
    sqlx::query("VACUUM INTO ?")
        .bind(dest.to_string_lossy().into_owned())
        .execute(reader)
        .await
        .map_err(|e| BackupError::Write {
            path: shown,
            message: match e.as_database_error() {
                Some(db) => db.message().to_string(),
                None => e.to_string(),
            },
        })?;
    Ok(())
}

/// SQLite's "corrupt" and "not a database" codes: a file too damaged to even open.
pub fn corruption(e: &sqlx::Error) -> Option<String> {
    let db = e.as_database_error()?;
    matches!(db.code().as_deref(), Some("11" | "26")).then(|| db.message().to_string())
}

/// The refusal when the start-up check fails: loud in the log, clear on the console.
pub fn corrupt(path: &Path, problems: Vec<String>) -> StoreError {
    let path = path.display().to_string();
    tracing::error!(path = %path, problems = ?problems, "the mirror database failed PRAGMA quick_check; refusing to start");
    StoreError::Corrupt {
        path,
        problems: problems.join("; "),
    }
}
