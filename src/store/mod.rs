//! The mirror: SQLite (embedded, the default) or PostgreSQL (several replicas), behind one
//! interface. Queries live in one module per resource, written once and run on either backend
//! (see [`dialect`]); list answers are built from stored JSON text.

/// The visibility predicate of every mirror read; binds (all, projects JSON array, tenant) —
/// see [`visibility::Filter`] and [`visibility::Visible`].
macro_rules! visible {
    () => {
        "(? OR project_uid IN (SELECT value FROM json_each(?)) OR (project_uid IS NULL AND ?))"
    };
}

/// A constant query's text for dialect `$d`: as written on SQLite, translated once (per call
/// site) for PostgreSQL. The second form names each backend's text where they differ beyond
/// what [`dialect::postgres`] translates.
macro_rules! sql {
    ($d:expr, $text:expr) => {
        sql!($d, sqlite: $text, postgres: $text)
    };
    ($d:expr, sqlite: $sqlite:expr, postgres: $postgres:expr) => {{
        static POSTGRES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        match $d {
            $crate::store::dialect::Dialect::Sqlite => $sqlite,
            $crate::store::dialect::Dialect::Postgres => POSTGRES
                .get_or_init(|| $crate::store::dialect::postgres($postgres))
                .as_str(),
        }
    }};
}

/// `$body` once per backend: `$target` is an enum with a `Sqlite` and a `Postgres` variant
/// (`$sqlite` and `$postgres`), `$p` its payload and `$d` that backend's [`dialect::Dialect`].
/// The body is type-checked against each driver, so binds and rows stay native (no `Any`).
macro_rules! per_backend {
    ($target:expr, $sqlite:path, $postgres:path, |$p:ident, $d:ident| $body:expr) => {
        match $target {
            $sqlite($p) => {
                #[allow(unused_variables)]
                let $d = $crate::store::dialect::Dialect::Sqlite;
                $body
            }
            $postgres($p) => {
                #[allow(unused_variables)]
                let $d = $crate::store::dialect::Dialect::Postgres;
                $body
            }
        }
    };
}

/// `$body` on the pool reads go to (`$p`), in its dialect `$d`.
macro_rules! read {
    ($db:expr, |$p:ident, $d:ident| $body:expr) => {
        per_backend!(
            $db.pools.reads(),
            $crate::store::PoolRef::Sqlite,
            $crate::store::PoolRef::Postgres,
            |$p, $d| $body
        )
    };
}

/// `$body` on the pool writes go to (single statements outside a transaction).
macro_rules! write {
    ($db:expr, |$p:ident, $d:ident| $body:expr) => {
        per_backend!(
            $db.pools.writes(),
            $crate::store::PoolRef::Sqlite,
            $crate::store::PoolRef::Postgres,
            |$p, $d| $body
        )
    };
}

/// `$body` on a write transaction's connection (`$c`, used as `&mut *$c`) in its dialect `$d`.
macro_rules! on {
    ($tx:expr, |$c:ident, $d:ident| $body:expr) => {
        per_backend!(
            $crate::store::writer::WriteTx::conn($tx),
            $crate::store::writer::ConnRef::Sqlite,
            $crate::store::writer::ConnRef::Postgres,
            |$c, $d| $body
        )
    };
}

pub mod audit;
pub mod check;
pub mod clusters;
pub mod dialect;
pub mod enrich;
pub mod events;
pub mod generation;
pub mod held;
pub mod idempotency;
pub mod infra;
pub mod leases;
pub mod maintenance;
pub mod outbox;
pub mod postgres;
pub mod profiles;
pub mod projects;
pub mod reports;
pub mod snapshot;
pub mod sqlite;
pub mod sync_runs;
pub mod ui_sessions;
pub mod user_scopes;
pub mod visibility;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use visibility::Visible;

use sqlx::{PgPool, SqlitePool};

use crate::config::DatabaseConfig;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database url `{url}`: {message}")]
    Url { url: String, message: String },
    #[error("cannot create database directory {path}: {message}")]
    Directory { path: String, message: String },
    #[error("cannot open database: {0}")]
    Open(#[source] sqlx::Error),
    #[error("cannot reach PostgreSQL at {url}: {message}")]
    Unreachable { url: String, message: String },
    /// What stands in the way of using PostgreSQL, as `check-config` says it.
    #[error("{0}")]
    Postgres(String),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error(
        "the database's schema is newer than this binary (migration {0} was applied by a newer release): run that release or a newer one"
    )]
    Newer(i64),
    #[error(
        "database {path} is corrupt (PRAGMA quick_check: {problems}); restore it from a backup (`backup PATH`) or move it away to mirror Palette afresh"
    )]
    Corrupt { path: String, problems: String },
}

impl StoreError {
    /// A failed migration run; a database a newer release upgraded is named as such.
    fn migrate(e: sqlx::migrate::MigrateError) -> StoreError {
        match e {
            sqlx::migrate::MigrateError::VersionMissing(v) => StoreError::Newer(v),
            other => StoreError::Migrate(other),
        }
    }
}

/// Which backend a database URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

impl BackendKind {
    /// `postgres://` or `postgresql://` select PostgreSQL; anything else is a SQLite URL.
    pub fn of_url(url: &str) -> BackendKind {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            BackendKind::Postgres
        } else {
            BackendKind::Sqlite
        }
    }
}

/// The connection pools of one backend.
#[derive(Clone, Debug)]
pub enum Pools {
    Sqlite {
        /// The single writer connection: serialises writes inside the process; `BEGIN
        /// IMMEDIATE` guards against other processes.
        writer: SqlitePool,
        /// Read-only connections; in WAL mode they never wait on the writer.
        reader: SqlitePool,
        path: PathBuf,
        /// When the planner's statistics were last refreshed (readers opened before are
        /// replaced).
        stats: sqlite::StatsRefreshed,
    },
    /// One pool: PostgreSQL serves concurrent readers and writers itself.
    Postgres { pool: PgPool },
}

/// A pool of either backend (what `read!`/`write!` match on).
pub enum PoolRef<'a> {
    Sqlite(&'a SqlitePool),
    Postgres(&'a PgPool),
}

impl Pools {
    pub fn reads(&self) -> PoolRef<'_> {
        match self {
            Pools::Sqlite { reader, .. } => PoolRef::Sqlite(reader),
            Pools::Postgres { pool } => PoolRef::Postgres(pool),
        }
    }

    pub fn writes(&self) -> PoolRef<'_> {
        match self {
            Pools::Sqlite { writer, .. } => PoolRef::Sqlite(writer),
            Pools::Postgres { pool } => PoolRef::Postgres(pool),
        }
    }
}

/// Handles to the mirror. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pub pools: Pools,
    /// The newest mirror generation this process knows of (see [`generation`]): its own
    /// commits and those of other processes on the same database. Answers built before it
    /// moved may be out of date (the response cache and the report tallies key on it).
    generation: Arc<AtomicU64>,
    /// The report counts of the current generation (see [`reports::TallyMemo`]).
    pub tallies: Arc<reports::TallyMemo>,
}

impl Db {
    /// Opens the database the URL names (creating a SQLite file if needed) and brings its
    /// schema up to date before anything reads it.
    pub async fn open(config: &DatabaseConfig) -> Result<Db, StoreError> {
        let pools = match BackendKind::of_url(&config.url) {
            BackendKind::Sqlite => sqlite::open(config).await?,
            BackendKind::Postgres => postgres::open(config).await?,
        };
        let db = Db {
            pools,
            generation: Arc::default(),
            tallies: Arc::default(),
        };
        let now = generation::current(&db).await.map_err(StoreError::Open)?;
        db.observe_generation(now);
        Ok(db)
    }

    pub fn kind(&self) -> BackendKind {
        match self.pools {
            Pools::Sqlite { .. } => BackendKind::Sqlite,
            Pools::Postgres { .. } => BackendKind::Postgres,
        }
    }

    /// The SQLite file (None on PostgreSQL).
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.pools {
            Pools::Sqlite { path, .. } => Some(path),
            Pools::Postgres { .. } => None,
        }
    }

    /// The newest mirror generation this process knows of: it moves with every committed
    /// mirror write, this process's or another's (see [`generation::follow`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Takes on a generation committed to the database; true when it is newer than what this
    /// process knew (it never goes back: notifications and reads may arrive out of order).
    pub(crate) fn observe_generation(&self, value: u64) -> bool {
        self.generation.fetch_max(value, Ordering::AcqRel) < value
    }

    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { writer, reader, .. } => {
                reader.close().await;
                writer.close().await;
            }
            Pools::Postgres { pool } => pool.close().await,
        }
    }
}

/// Keeps the query planner's statistics fresh after a sync applied changes. Without them
/// SQLite guessed a scan of every profile ref for the reverse lookup (43–88 ms at 10,000
/// clusters instead of well under one). `analysis_limit` keeps SQLite's ANALYZE to a sample
/// per index; PostgreSQL samples by itself, and only the mirror's tables are analyzed.
pub async fn refresh_statistics(db: &Db) -> Result<(), sqlx::Error> {
    match &db.pools {
        Pools::Sqlite { writer, stats, .. } => sqlite::refresh_statistics(writer, stats).await,
        Pools::Postgres { pool } => postgres::refresh_statistics(pool).await,
    }
}

/// Mirrored kinds as `/metrics` labels them, and the table each lives in.
const MIRROR_TABLES: [(&str, &str); 8] = [
    ("projects", "projects"),
    ("clusters", "clusters"),
    ("virtual_clusters", "virtual_clusters"),
    ("profiles", "cluster_profiles"),
    ("profile_versions", "profile_versions"),
    ("cloud_accounts", "cloud_accounts"),
    ("overlords", "overlords"),
    ("cluster_groups", "cluster_groups"),
];

/// How many objects of each mirrored kind `env` holds, as (kind, count).
pub async fn mirror_sizes(db: &Db, env: &str) -> Result<Vec<(&'static str, i64)>, sqlx::Error> {
    let mut sizes = Vec::with_capacity(MIRROR_TABLES.len());
    for (kind, table) in MIRROR_TABLES {
        // The table name comes from the constant above, never from input.
        let text = format!("SELECT count(*) FROM {table} WHERE env = ?");
        let n: i64 = read!(db, |p, d| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(d.text(&text)))
                .bind(env)
                .fetch_one(p)
                .await
        })?;
        sizes.push((kind, n));
    }
    Ok(sizes)
}

/// Current time as stored in the mirror (RFC 3339, UTC, milliseconds).
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Mirror tables whose list answers are their stored list JSON, concatenated.
#[derive(Debug, Clone, Copy)]
pub enum Listed {
    Clusters,
    VirtualClusters,
    Overlords,
    ClusterGroups,
}

/// The whole JSON array of a listing in ONE row: SQLite concatenates the stored texts, so a
/// thousand-item answer costs one row fetch instead of a thousand.
macro_rules! list_sql {
    ($column:literal, $table:literal) => {
        concat!(
            "SELECT '[' || COALESCE(group_concat(j, ',' ORDER BY n, u), '') || ']' FROM (SELECT ",
            $column,
            " AS j, name AS n, uid AS u FROM ",
            $table,
            " WHERE env = ? AND (? IS NULL OR project_uid = ? OR project_uid IS NULL) AND ",
            visible!(),
            " ORDER BY name, uid LIMIT ? OFFSET ?) AS page"
        )
    };
}

/// The JSON array (as text) of the stored list items of a kind the caller may see, ordered by
/// name; with `project`, only that project's and tenant objects.
pub async fn list_json(
    db: &Db,
    what: Listed,
    env: &str,
    project: Option<&str>,
    vis: &visibility::Filter,
    page: Page,
) -> Result<String, sqlx::Error> {
    read!(db, |p, d| {
        // One `sql!` per text: each call site caches its own translation.
        let sql = match what {
            Listed::Clusters => sql!(d, list_sql!("list_json", "clusters")),
            Listed::VirtualClusters => sql!(d, list_sql!("list_json", "virtual_clusters")),
            Listed::Overlords => sql!(d, list_sql!("json", "overlords")),
            Listed::ClusterGroups => sql!(d, list_sql!("list_json", "cluster_groups")),
        };
        sqlx::query_scalar(sql)
            .bind(env)
            .bind(project)
            .bind(project)
            .visible_to(vis)
            .bind(d.limit(page.limit))
            .bind(page.offset)
            .fetch_one(p)
            .await
    })
}

/// `{"<key>":<array>}` around a JSON array text.
pub fn json_object(key: &str, array: &str) -> String {
    let mut out = String::with_capacity(array.len() + key.len() + 6);
    out.push_str("{\"");
    out.push_str(key);
    out.push_str("\":");
    out.push_str(array);
    out.push('}');
    out
}

/// A lookup by name (case-insensitive) in an environment; with `project`, that project's
/// objects and the tenant's.
#[derive(Debug, Clone, Copy)]
pub struct ByName<'a> {
    pub env: &'a str,
    pub name: &'a str,
    pub project: Option<&'a str>,
}

/// An object a name matched: enough to tell it from the others of that name.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NamedRow {
    pub uid: String,
    pub name: String,
    pub scope: String,
    pub project_uid: Option<String>,
    pub project_name: Option<String>,
}

/// Optional `limit`/`offset` of list routes; no parameters = everything, as the original.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// -1 = no limit (SQLite's convention).
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    pub const ALL: Page = Page {
        limit: -1,
        offset: 0,
    };
}

/// `{"<key>":[item,item,...]}` from stored JSON texts, without parsing them again.
pub fn json_list(key: &str, items: &[String]) -> String {
    let len: usize = items.iter().map(|i| i.len() + 1).sum();
    let mut out = String::with_capacity(len + key.len() + 8);
    out.push_str("{\"");
    out.push_str(key);
    out.push_str("\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push_str("]}");
    out
}

/// Every read query of the store, by name, so one test (`tests/api/reads.rs`,
/// `every_store_read_has_an_index_plan`) checks the plan of each against a synced mirror.
/// A new read query belongs here.
pub fn read_queries() -> Vec<(&'static str, &'static str)> {
    vec![
        ("list_json(clusters)", list_sql!("list_json", "clusters")),
        (
            "list_json(virtual_clusters)",
            list_sql!("list_json", "virtual_clusters"),
        ),
        ("list_json(overlords)", list_sql!("json", "overlords")),
        (
            "list_json(cluster_groups)",
            list_sql!("list_json", "cluster_groups"),
        ),
        ("clusters::get", clusters::GET_SQL),
        ("clusters::named", clusters::NAMED_SQL),
        ("clusters::briefs", clusters::BRIEFS_SQL),
        ("profiles::search_by_names", profiles::SEARCH_BY_NAMES_SQL),
        ("profiles::for_project", profiles::FOR_PROJECT_SQL),
        ("profiles::version", profiles::VERSION_SQL),
        ("profiles::variables", profiles::VARIABLES_SQL),
        ("profiles::lineage", profiles::LINEAGE_SQL),
        ("profiles::clusters_on", profiles::CLUSTERS_ON_SQL),
        (
            "profiles::clusters_on#count",
            profiles::CLUSTERS_ON_COUNT_SQL,
        ),
        ("profiles::named", profiles::NAMED_SQL),
        ("profiles::names", profiles::NAMES_SQL),
        ("profiles::version_kind", profiles::VERSION_KIND_SQL),
        ("profiles::has_versions", profiles::HAS_VERSIONS_SQL),
        ("projects::list", projects::LIST_SQL),
        ("projects::names", projects::NAMES_SQL),
        ("projects::exists", projects::EXISTS_SQL),
        ("reports::profile_versions", reports::PROFILE_VERSIONS_SQL),
        ("reports::version_counts", reports::VERSION_COUNTS_SQL),
        ("reports::version_members", reports::VERSION_MEMBERS_SQL),
        ("reports::pack_usage", reports::PACK_USAGE_SQL),
        ("reports::pack_counts", reports::PACK_COUNTS_SQL),
        ("reports::fleet", reports::FLEET_SQL),
        ("events::list", events::LIST_SQL),
        ("events::trend", events::TREND_SQL),
        ("infra::accounts", infra::ACCOUNTS_SQL),
        ("infra::account", infra::ACCOUNT_SQL),
        ("infra::cluster_group", infra::CLUSTER_GROUP_SQL),
        ("infra::account_cloud", infra::ACCOUNT_CLOUD_SQL),
        ("infra::has_accounts", infra::HAS_ACCOUNTS_SQL),
        ("infra::account_gateway", infra::ACCOUNT_GATEWAY_SQL),
    ]
}
