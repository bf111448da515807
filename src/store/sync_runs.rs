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

/// Runs of `env` still marked `running` belong to a process that died (the caller holds the
/// environment's sync lock, so no live process owns them): mark them interrupted.
pub async fn mark_interrupted(db: &Db, env: &str) -> Result<u64, sqlx::Error> {
    write!(db, |p, d| {
        sqlx::query(sql!(
            d,
            "UPDATE sync_runs SET outcome = 'interrupted', finished_at = ?,
                error = CASE WHEN listed_at IS NULL
                    THEN 'the process stopped during this run; nothing of it was applied'
                    ELSE 'the process stopped during this run; its listings and the batches counted here were applied and kept' END
             WHERE env = ? AND outcome = 'running'"
        ))
        .bind(now_text())
        .bind(env)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
    })
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

pub async fn start(
    db: &Db,
    env: &str,
    trigger: &str,
    started_at: &str,
) -> Result<i64, sqlx::Error> {
    write!(db, |p, d| {
        sqlx::query_scalar(sql!(
            d,
            "INSERT INTO sync_runs (env, trigger, started_at, outcome) VALUES (?, ?, ?, 'running') RETURNING id"
        ))
        .bind(env)
        .bind(trigger)
        .bind(started_at)
        .fetch_one(p)
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

/// When the newest run whose listings were applied applied them (the mirror is browsable from
/// then on, even if no run of it has succeeded yet).
pub async fn last_listed(db: &Db, env: &str) -> Result<Option<String>, sqlx::Error> {
    newest_value(db, env, "listed_at", "listed_at IS NOT NULL").await
}

/// Whether run `id` is already recorded as over (its last batch recorded it).
pub async fn is_finished(db: &Db, id: i64) -> Result<bool, sqlx::Error> {
    let outcome: Option<RunOutcome> = read!(db, |p, d| {
        sqlx::query_scalar(sql!(d, "SELECT outcome FROM sync_runs WHERE id = ?"))
            .bind(id)
            .fetch_optional(p)
            .await
    })?;
    Ok(outcome.is_some_and(|o| o != RunOutcome::Running))
}

/// Records a run's end; `counts_json: None` keeps the counts its batches recorded.
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
    }
}

const COLUMNS: &str = "id, trigger, started_at, finished_at, outcome, counts, api_calls, error";

/// The newest finished run of an environment, and its newest successful one.
pub async fn latest(
    db: &Db,
    env: &str,
) -> Result<(Option<RunRecord>, Option<RunRecord>), sqlx::Error> {
    let last = newest(db, env, "outcome != 'running'").await?;
    let success = newest(db, env, "outcome = 'success'").await?;
    Ok((last, success))
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
