//! Sync run records (`sync_runs`) and the environments they belong to.

use serde::Serialize;
use sqlx::FromRow;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use super::writer::WriteTx;
use super::{Db, now_text};
use crate::config::EnvironmentConfig;
use crate::domain::RunOutcome;

/// Makes sure every configured environment has its row (mirror rows reference it).
pub async fn ensure_environments(db: &Db, envs: &[EnvironmentConfig]) -> Result<(), sqlx::Error> {
    for e in envs {
        write!(db, |p, d| {
            sqlx::query(sql!(
                d,
                "INSERT INTO environments (name, url, tenant, created_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (name) DO UPDATE SET url = excluded.url, tenant = excluded.tenant"
            ))
            .bind(&e.name)
            .bind(&e.url)
            .bind(&e.tenant)
            .bind(now_text())
            .execute(p)
            .await
            .map(drop)
        })?;
    }
    Ok(())
}

/// Runs of `env` still marked `running` are dead: the caller just claimed the environment's
/// lease in this transaction, so no live process owns them. Marks them interrupted, naming
/// `holder`, the replica that held the lease before (when known; `me` when this replica
/// restarted under its id); returns how many.
pub async fn interrupt_in(
    tx: &mut WriteTx,
    env: &str,
    holder: Option<&str>,
    me: &str,
) -> Result<u64, sqlx::Error> {
    let who = match holder {
        Some(h) if h == me => format!("replica `{h}` restarted during this run"),
        Some(h) => format!("replica `{h}` stopped renewing its lease during this run"),
        None => "the process stopped during this run".to_string(),
    };
    let nothing = format!("{who}; nothing of it was applied");
    let kept = format!("{who}; its listings and the batches counted here were applied and kept");
    on!(tx, |c, d| {
        sqlx::query(sql!(
            d,
            "UPDATE sync_runs SET outcome = 'interrupted', finished_at = ?,
                error = CASE WHEN listed_at IS NULL THEN ? ELSE ? END
             WHERE env = ? AND outcome = 'running'"
        ))
        .bind(now_text())
        .bind(&nothing)
        .bind(&kept)
        .bind(env)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })
}

/// The id of a scheduled run of `env` started at or after `tick` (RFC 3339): the run another
/// replica started for that tick. Every replica writes `started_at` after its tick fired, on
/// the clock that fired it, so the winner's is never before the tick's time.
pub async fn scheduled_since_in(
    tx: &mut WriteTx,
    env: &str,
    tick: &str,
) -> Result<Option<i64>, sqlx::Error> {
    on!(tx, |c, d| {
        sqlx::query_scalar(sql!(
            d,
            "SELECT id FROM sync_runs WHERE env = ? AND trigger = 'schedule' AND started_at >= ?
             ORDER BY id DESC LIMIT 1"
        ))
        .bind(env)
        .bind(tick)
        .fetch_optional(&mut *c)
        .await
    })
}

/// The outcome of the newest run of `env`, finished or not.
pub async fn newest_outcome(db: &Db, env: &str) -> Result<Option<RunOutcome>, sqlx::Error> {
    let outcome: Option<String> = newest_value(db, env, "outcome", "1 = 1").await?;
    Ok(outcome.as_deref().and_then(RunOutcome::parse))
}

/// The newest run of `env` marked `running` (another process's, when this one runs none).
pub async fn running(db: &Db, env: &str) -> Result<Option<i64>, sqlx::Error> {
    newest_value(db, env, "id", "outcome = 'running'").await
}

/// `column` of the newest run of `env` where `predicate` holds (both constants).
async fn newest_value<T>(
    db: &Db,
    env: &str,
    column: &'static str,
    predicate: &'static str,
) -> Result<Option<T>, sqlx::Error>
where
    (T,): for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow>,
    T: Send + Unpin,
{
    let text = format!(
        "SELECT {column} FROM sync_runs WHERE env = ? AND {predicate} ORDER BY id DESC LIMIT 1"
    );
    read!(db, |p, d| {
        sqlx::query_scalar(sqlx::AssertSqlSafe(d.text(&text)))
            .bind(env)
            .fetch_optional(p)
            .await
    })
}

/// Records a new run of `env` by `replica`, in the transaction that claimed its lease.
pub async fn start_in(
    tx: &mut WriteTx,
    env: &str,
    trigger: &str,
    started_at: &str,
    replica: &str,
) -> Result<i64, sqlx::Error> {
    on!(tx, |c, d| {
        sqlx::query_scalar(sql!(
            d,
            "INSERT INTO sync_runs (env, trigger, started_at, outcome, replica) \
             VALUES (?, ?, ?, 'running', ?) RETURNING id"
        ))
        .bind(env)
        .bind(trigger)
        .bind(started_at)
        .bind(replica)
        .fetch_one(&mut *c)
        .await
    })
}

/// Records, inside the transaction of a batch, what the run has applied so far (`counts`) and,
/// for its listings batch, when they were applied: a run that dies still tells what it left.
pub async fn progress_in(
    tx: &mut WriteTx,
    id: i64,
    counts_json: &str,
    api_calls: u64,
    listed_at: Option<&str>,
) -> Result<(), sqlx::Error> {
    on!(tx, |c, d| {
        sqlx::query(sql!(
            d,
            "UPDATE sync_runs SET counts = ?, api_calls = ?, listed_at = COALESCE(?, listed_at) WHERE id = ?"
        ))
        .bind(counts_json)
        .bind(api_calls as i64)
        .bind(listed_at)
        .bind(id)
        .execute(&mut *c)
        .await
        .map(drop)
    })
}

/// Records the run's end inside the transaction of its last write (after its last
/// [`progress_in`]).
pub async fn finish_in(
    tx: &mut WriteTx,
    id: i64,
    outcome: RunOutcome,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    on!(tx, |c, d| {
        sqlx::query(sql!(
            d,
            "UPDATE sync_runs SET finished_at = ?, outcome = ?, error = ? WHERE id = ?"
        ))
        .bind(now_text())
        .bind(outcome)
        .bind(error)
        .bind(id)
        .execute(&mut *c)
        .await
        .map(drop)
    })
}

/// When run `id` finished, as recorded (what every replica reports as its end).
pub async fn finished_at(db: &Db, id: i64) -> Result<Option<String>, sqlx::Error> {
    let at: Option<Option<String>> = read!(db, |p, d| {
        sqlx::query_scalar(sql!(d, "SELECT finished_at FROM sync_runs WHERE id = ?"))
            .bind(id)
            .fetch_optional(p)
            .await
    })?;
    Ok(at.flatten())
}

/// When the newest run whose listings were applied applied them (the mirror is browsable from
/// then on, even if no run of it has succeeded yet).
pub async fn last_listed(db: &Db, env: &str) -> Result<Option<String>, sqlx::Error> {
    newest_value(db, env, "listed_at", "listed_at IS NOT NULL").await
}

/// Whether run `id` is recorded as a success (its last write recorded it).
pub async fn recorded_success(db: &Db, id: i64) -> Result<bool, sqlx::Error> {
    let outcome: Option<RunOutcome> = read!(db, |p, d| {
        sqlx::query_scalar(sql!(d, "SELECT outcome FROM sync_runs WHERE id = ?"))
            .bind(id)
            .fetch_optional(p)
            .await
    })?;
    Ok(outcome == Some(RunOutcome::Success))
}

/// Records a run's end; `counts_json: None` keeps the counts its batches recorded. Written by
/// the run's own process, which knows best how it ended: it replaces a takeover's
/// `interrupted` (the run was alive, it lost its lease).
pub async fn finish(
    db: &Db,
    id: i64,
    outcome: RunOutcome,
    counts_json: Option<&str>,
    api_calls: u64,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    write!(db, |p, d| {
        sqlx::query(sql!(
            d,
            "UPDATE sync_runs SET finished_at = ?, outcome = ?, counts = COALESCE(?, counts), api_calls = ?,
                error = ? WHERE id = ?"
        ))
        .bind(now_text())
        .bind(outcome)
        .bind(counts_json)
        .bind(api_calls as i64)
        .bind(error)
        .bind(id)
        .execute(p)
        .await
        .map(drop)
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub trigger: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub outcome: RunOutcome,
    pub counts: serde_json::Value,
    pub api_calls: i64,
    pub error: Option<String>,
    /// The replica (or `sync --once` process) that ran it; null for runs recorded before
    /// runs named theirs.
    pub replica: Option<String>,
}

/// A `sync_runs` row as stored (decoded alike on both backends).
#[derive(FromRow)]
struct RunRow {
    id: i64,
    trigger: String,
    started_at: String,
    finished_at: Option<String>,
    outcome: String,
    counts: String,
    api_calls: i64,
    error: Option<String>,
    replica: Option<String>,
}

fn record(r: RunRow) -> RunRecord {
    RunRecord {
        id: r.id,
        trigger: r.trigger,
        started_at: r.started_at,
        finished_at: r.finished_at,
        // Written only by this module, from the enum; a stranger reads as failed.
        outcome: RunOutcome::parse(&r.outcome).unwrap_or(RunOutcome::Failed),
        counts: serde_json::from_str(&r.counts).unwrap_or_default(),
        api_calls: r.api_calls,
        error: r.error,
        replica: r.replica,
    }
}

const COLUMNS: &str =
    "id, trigger, started_at, finished_at, outcome, counts, api_calls, error, replica";

/// The newest finished run of an environment, and its newest successful one.
pub async fn latest(
    db: &Db,
    env: &str,
) -> Result<(Option<RunRecord>, Option<RunRecord>), sqlx::Error> {
    let last = newest(db, env, "outcome != 'running'").await?;
    let success = newest(db, env, "outcome = 'success'").await?;
    Ok((last, success))
}

/// The run of `env` under way, wherever it runs.
pub async fn under_way(db: &Db, env: &str) -> Result<Option<RunRecord>, sqlx::Error> {
    newest(db, env, "outcome = 'running'").await
}

/// The newest run of `env` whose outcome matches `outcome` (a constant predicate).
async fn newest(
    db: &Db,
    env: &str,
    outcome: &'static str,
) -> Result<Option<RunRecord>, sqlx::Error> {
    let text = format!(
        "SELECT {COLUMNS} FROM sync_runs WHERE env = ? AND {outcome} ORDER BY id DESC LIMIT 1"
    );
    let row: Option<RunRow> = read!(db, |p, d| {
        sqlx::query_as(sqlx::AssertSqlSafe(d.text(&text)))
            .bind(env)
            .fetch_optional(p)
            .await
    })?;
    Ok(row.map(record))
}

/// Finished runs of one environment with one outcome (for `/metrics`).
#[derive(Debug, sqlx::FromRow)]
pub struct OutcomeCount {
    pub env: String,
    pub outcome: String,
    pub runs: i64,
}

/// Finished runs per environment and outcome.
pub async fn outcome_counts(db: &Db) -> Result<Vec<OutcomeCount>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as(sql!(
            d,
            "SELECT env, outcome, count(*) AS runs FROM sync_runs WHERE outcome != 'running' \
             GROUP BY env, outcome ORDER BY env, outcome"
        ))
        .fetch_all(p)
        .await
    })
}
