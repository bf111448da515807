//! The SQLite mirror: one writer connection and a pool of read-only readers over one WAL file.
//! Queries live in one module per resource; list answers are built from stored JSON text.

/// The visibility predicate of every mirror read; binds (all, projects JSON array, tenant) —
/// see [`visibility::Filter`] and [`visibility::Visible`].
macro_rules! visible {
    () => {
        "(? OR project_uid IN (SELECT value FROM json_each(?)) OR (project_uid IS NULL AND ?))"
    };
}

pub mod audit;
pub mod clusters;
pub mod enrich;
pub mod events;
pub mod held;
pub mod idempotency;
pub mod infra;
pub mod maintenance;
pub mod outbox;
pub mod profiles;
pub mod projects;
pub mod reports;
pub mod snapshot;
pub mod sync_runs;
pub mod ui_sessions;
pub mod user_scopes;
pub mod visibility;
pub mod writer;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use visibility::Visible;

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
    #[error(
        "database {path} is corrupt (PRAGMA quick_check: {problems}); restore it from a backup (`backup PATH`) or move it away to mirror Palette afresh"
    )]
    Corrupt { path: String, problems: String },
}

/// WAL size kept after a checkpoint (SQLite truncates a larger file back to this).
const JOURNAL_SIZE_LIMIT: &str = "67108864";

/// Handles to the mirror. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    /// The single writer connection: serialises writes inside the process; `BEGIN IMMEDIATE`
    /// guards against other processes.
    pub writer: SqlitePool,
    /// Read-only connections; in WAL mode they never wait on the writer.
    pub reader: SqlitePool,
    pub path: PathBuf,
    /// Bumped by every committed write transaction of this process: answers built before a
    /// bump may be out of date (the response cache keys on it).
    generation: Arc<AtomicU64>,
    /// The report counts of the current generation (see [`reports::TallyMemo`]).
    pub tallies: Arc<reports::TallyMemo>,
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
        sqlx::migrate!("./migrations/sqlite")
            .run(&writer)
            .await
            .map_err(StoreError::Migrate)?;
        // An index a migration just added has no statistics until the next applied sync, and
        // the planner then guesses (the reverse lookup went from 7 ms to 66 ms at 10,000
        // clusters). Sampled, so it takes milliseconds.
        refresh_statistics_on(&writer)
            .await
            .map_err(StoreError::Open)?;

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
            generation: Arc::default(),
            tallies: Arc::default(),
        })
    }

    /// The mirror's generation in this process (see [`Db::bump_generation`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Marks that committed data changed.
    pub(crate) fn bump_generation(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// Keeps the query planner's statistics fresh after a sync applied changes. Without them
/// SQLite guessed a scan of every profile ref for the reverse lookup (43–88 ms at 10,000
/// clusters instead of well under one). `analysis_limit` keeps ANALYZE to a sample per index.
pub async fn refresh_statistics(db: &Db) -> Result<(), sqlx::Error> {
    refresh_statistics_on(&db.writer).await
}

async fn refresh_statistics_on(writer: &sqlx::SqlitePool) -> Result<(), sqlx::Error> {
    let mut conn = writer.acquire().await?;
    sqlx::query("PRAGMA analysis_limit = 1000")
        .execute(&mut *conn)
        .await?;
    sqlx::query("ANALYZE").execute(&mut *conn).await?;
    Ok(())
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
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE env = ?"
        )))
        .bind(env)
        .fetch_one(&db.reader)
        .await?;
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
            " ORDER BY name, uid LIMIT ? OFFSET ?)"
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
    let sql = match what {
        Listed::Clusters => list_sql!("list_json", "clusters"),
        Listed::VirtualClusters => list_sql!("list_json", "virtual_clusters"),
        Listed::Overlords => list_sql!("json", "overlords"),
        Listed::ClusterGroups => list_sql!("list_json", "cluster_groups"),
    };
    let q = sqlx::query_scalar(sql)
        .bind(env)
        .bind(project)
        .bind(project);
    q.visible_to(vis)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_one(&db.reader)
        .await
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
