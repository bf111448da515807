//! What `check-config` learns by reaching the database: whether it answers, and whether this
//! binary can use its schema. Read only: nothing is created, migrated or locked.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, SqliteConnection};

use super::{BackendKind, StoreError, postgres};
use crate::config::DatabaseConfig;

/// How long reaching the database may take before it counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the database's schema is to this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schema {
    /// Nothing there yet: the first start creates the schema.
    Empty,
    /// The first start applies this binary's `pending` newer migrations.
    Behind {
        pending: usize,
    },
    UpToDate,
}

/// A database that answered.
#[derive(Debug, Clone)]
pub struct Reached {
    /// What was reached, e.g. "PostgreSQL 15.4 at 127.0.0.1:5432, database `spectrocloud`".
    pub what: String,
    pub schema: Schema,
}

impl std::fmt::Display for Reached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let schema = match &self.schema {
            Schema::Empty => "no schema yet (created at the first start)".to_string(),
            Schema::Behind { pending } => {
                format!("{pending} migration(s) of this binary to apply at the next start")
            }
            Schema::UpToDate => "schema up to date".to_string(),
        };
        std::write!(f, "{}: {schema}", self.what)
    }
}

/// What stands in the way of using the database, named for the person who can fix it.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error(transparent)]
    Url(#[from] StoreError),
    #[error("cannot reach PostgreSQL at {at}: {detail}")]
    Unreachable { at: String, detail: String },
    #[error(
        "PostgreSQL at {at} refused user `{user}`: {detail} (check the user and password in database.url)"
    )]
    Authentication {
        at: String,
        user: String,
        detail: String,
    },
    #[error(
        "database `{name}` does not exist at {at}; create it (CREATE DATABASE \"{name}\" OWNER <user>) or correct database.url"
    )]
    NoDatabase { at: String, name: String },
    #[error(
        "the schema is newer than this binary: migration {version} ({description}) was applied by a newer release; run that release or a newer one"
    )]
    Newer { version: i64, description: String },
    #[error(
        "migration {version} ({description}) failed part-way; restore the database from a backup"
    )]
    Dirty { version: i64, description: String },
    #[error("{0}")]
    Other(String),
}

impl Problem {
    /// Whether waiting may cure it: the server is unreachable, starting up or out of
    /// connections, not refusing this user or database.
    pub fn may_pass(&self) -> bool {
        matches!(self, Problem::Unreachable { .. })
    }
}

/// Reaches the database `config` names and reads which migrations it has.
pub async fn database(config: &DatabaseConfig) -> Result<Reached, Problem> {
    match BackendKind::of_url(&config.url) {
        BackendKind::Postgres => reach_postgres(&config.url).await,
        BackendKind::Sqlite => reach_sqlite(&config.url).await,
    }
}

/// One applied migration, as `_sqlx_migrations` records it.
#[derive(Debug, sqlx::FromRow)]
struct Applied {
    version: i64,
    description: String,
    success: bool,
}

/// The schema `applied` makes for a binary that knows `known`'s migrations.
fn schema(known: &Migrator, applied: &[Applied]) -> Result<Schema, Problem> {
    if let Some(a) = applied.iter().find(|a| !a.success) {
        return Err(Problem::Dirty {
            version: a.version,
            description: a.description.clone(),
        });
    }
    let mine: HashSet<i64> = known.iter().map(|m| m.version).collect();
    if let Some(a) = applied.iter().rev().find(|a| !mine.contains(&a.version)) {
        return Err(Problem::Newer {
            version: a.version,
            description: a.description.clone(),
        });
    }
    if applied.is_empty() {
        return Ok(Schema::Empty);
    }
    let done: HashSet<i64> = applied.iter().map(|a| a.version).collect();
    let pending = mine.difference(&done).count();
    Ok(match pending {
        0 => Schema::UpToDate,
        n => Schema::Behind { pending: n },
    })
}

async fn reach_postgres(url: &str) -> Result<Reached, Problem> {
    let options = postgres::options(url)?.application_name("spectrocloud-backend check-config");
    let at = format!("{}:{}", options.get_host(), options.get_port());
    let name = options
        .get_database()
        .unwrap_or(options.get_username())
        .to_string();
    let mut conn = connect_postgres(&options).await?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut conn)
        .await
        .map_err(other)?;
    let applied = postgres_applied(&mut conn).await?;
    let _ = conn.close().await;
    Ok(Reached {
        what: format!("PostgreSQL {version} at {at}, database `{name}`"),
        schema: schema(&postgres::MIGRATOR, &applied)?,
    })
}

/// One connection to PostgreSQL, or what stands in the way of it (server, user, password,
/// database), in words the person who can fix it understands.
pub(super) async fn connect_postgres(options: &PgConnectOptions) -> Result<PgConnection, Problem> {
    let at = format!("{}:{}", options.get_host(), options.get_port());
    let user = options.get_username().to_string();
    let name = options
        .get_database()
        .unwrap_or(options.get_username())
        .to_string();
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Err(_) => Err(Problem::Unreachable {
            at,
            detail: format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
        }),
        Ok(Err(e)) => Err(refused(e, at, user, name)),
        Ok(Ok(c)) => Ok(c),
    }
}

/// Why PostgreSQL could not be used, from the error of the connection attempt.
fn refused(e: sqlx::Error, at: String, user: String, name: String) -> Problem {
    let code = e
        .as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned());
    let detail = match &e {
        sqlx::Error::Database(d) => d.message().to_string(),
        other => other.to_string(),
    };
    match code.as_deref() {
        // invalid_password, invalid_authorization_specification (unknown role, no pg_hba entry)
        Some("28P01" | "28000") => Problem::Authentication { at, user, detail },
        // invalid_catalog_name
        Some("3D000") => Problem::NoDatabase { at, name },
        // cannot_connect_now (starting up, shutting down), too_many_connections
        Some("57P03" | "53300") => Problem::Unreachable { at, detail },
        Some(_) => Problem::Other(format!("PostgreSQL at {at}: {detail}")),
        None => Problem::Unreachable { at, detail },
    }
}

fn other(e: sqlx::Error) -> Problem {
    Problem::Other(format!("cannot read the schema: {e}"))
}

async fn postgres_applied(conn: &mut PgConnection) -> Result<Vec<Applied>, Problem> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(other)?;
    if !exists {
        return Ok(Vec::new());
    }
    sqlx::query_as("SELECT version, description, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut *conn)
        .await
        .map_err(other)
}

/// A SQLite file is only read, and only if it exists: a missing one is created at the first
/// start.
async fn reach_sqlite(url: &str) -> Result<Reached, Problem> {
    let options = SqliteConnectOptions::from_str(url).map_err(|e| StoreError::Url {
        url: url.to_string(),
        message: e.to_string(),
    })?;
    let path = options.get_filename().to_path_buf();
    let what = format!("SQLite file {}", path.display());
    if !path.exists() {
        return Ok(Reached {
            what,
            schema: Schema::Empty,
        });
    }
    let mut conn = SqliteConnection::connect_with(&options.read_only(true))
        .await
        .map_err(|e| Problem::Other(format!("cannot open {}: {e}", path.display())))?;
    let applied = sqlite_applied(&mut conn).await?;
    let _ = conn.close().await;
    Ok(Reached {
        what,
        schema: schema(&super::sqlite::MIGRATOR, &applied)?,
    })
}

async fn sqlite_applied(conn: &mut SqliteConnection) -> Result<Vec<Applied>, Problem> {
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(other)?;
    if !exists {
        return Ok(Vec::new());
    }
    sqlx::query_as("SELECT version, description, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut *conn)
        .await
        .map_err(other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(version: i64, success: bool) -> Applied {
        Applied {
            version,
            description: format!("m{version}"),
            success,
        }
    }

    #[test]
    fn the_schema_is_read_against_the_binarys_migrations() {
        let known = &super::super::sqlite::MIGRATOR;
        let all: Vec<Applied> = known.iter().map(|m| applied(m.version, true)).collect();
        assert_eq!(schema(known, &[]).unwrap(), Schema::Empty);
        assert_eq!(schema(known, &all).unwrap(), Schema::UpToDate);
        assert_eq!(
            schema(known, &all[..all.len() - 2]).unwrap(),
            Schema::Behind { pending: 2 }
        );
        let mut newer = all;
        newer.push(applied(99_991_231_000_000, true));
        assert!(matches!(
            schema(known, &newer),
            Err(Problem::Newer {
                version: 99_991_231_000_000,
                ..
            })
        ));
        let half = vec![applied(known.iter().next().unwrap().version, false)];
        assert!(matches!(schema(known, &half), Err(Problem::Dirty { .. })));
    }
}
