//! The `audit_log` table. A row with a `collapse_key` stands for every entry with that key:
//! a repeat adds to its `count` and moves its `last_at` instead of adding a row.

use super::{Db, now_text};
use crate::domain::AuditOutcome;

/// Rows deleted per statement when pruning, so the single writer is never held long.
const PRUNE_BATCH: i64 = 5000;

/// One row to write.
pub struct NewEntry<'a> {
    pub subject: &'a str,
    /// The email Palette verified for the token used.
    pub palette_email: Option<&'a str>,
    /// The email the request claimed (unverified).
    pub claimed_email: Option<&'a str>,
    pub palette_user_uid: Option<&'a str>,
    /// `user_token` or `api_key`: which credential reached (or would have reached) Palette.
    pub credential: &'a str,
    pub action: &'a str,
    pub env: &'a str,
    pub object_uid: Option<&'a str>,
    pub outcome: AuditOutcome,
    pub detail: Option<&'a str>,
    /// Entries with the same key are one row with a count (None: a row of its own).
    pub collapse_key: Option<&'a str>,
}

pub async fn insert(db: &Db, e: &NewEntry<'_>) -> Result<(), sqlx::Error> {
    let now = now_text();
    write!(db, |p, d| {
        sqlx::query(sql!(d,
        "INSERT INTO audit_log (at, last_at, subject, palette_email, claimed_email, palette_user_uid,
                                credential, action, env, object_uid, outcome, detail, collapse_key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (collapse_key) WHERE collapse_key IS NOT NULL
         DO UPDATE SET count = audit_log.count + 1, last_at = excluded.last_at"),
    )
    .bind(&now)
    .bind(&now)
    .bind(e.subject)
    .bind(e.palette_email)
    .bind(e.claimed_email)
    .bind(e.palette_user_uid)
    .bind(e.credential)
    .bind(e.action)
    .bind(e.env)
    .bind(e.object_uid)
    .bind(e.outcome)
    .bind(e.detail)
    .bind(e.collapse_key)
    .execute(p)
    .await
    .map(drop)
    })
}

/// Deletes entries whose last activity is before `cutoff` (RFC 3339, as stored), a batch at
/// a time; returns how many.
pub async fn prune(db: &Db, cutoff: &str) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let n = write!(db, |p, d| {
            sqlx::query(sql!(
                d,
                "DELETE FROM audit_log WHERE id IN
                   (SELECT id FROM audit_log WHERE COALESCE(last_at, at) < ? LIMIT ?)"
            ))
            .bind(cutoff)
            .bind(PRUNE_BATCH)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })?;
        total += n;
        if n < PRUNE_BATCH as u64 {
            return Ok(total);
        }
    }
}

#[derive(Debug, serde::Serialize, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    pub at: String,
    pub subject: String,
    pub palette_email: Option<String>,
    pub claimed_email: Option<String>,
    pub palette_user_uid: Option<String>,
    pub credential: Option<String>,
    pub action: String,
    pub environment: String,
    pub object_uid: Option<String>,
    pub outcome: AuditOutcome,
    pub detail: Option<String>,
    /// How many entries this row stands for (repeated denials within a minute are one row).
    pub count: i64,
    /// When the last of them happened.
    pub last_at: String,
}

/// Newest first, and the total.
pub async fn list(db: &Db, limit: i64, offset: i64) -> Result<(Vec<Entry>, i64), sqlx::Error> {
    read!(db, |p, d| {
        let rows =
            sqlx::query_as::<_, Entry>(sql!(d,
        "SELECT id, at, subject, palette_email, claimed_email, palette_user_uid, credential,
                action, env AS environment, object_uid, outcome, detail, count,
                COALESCE(last_at, at) AS last_at
         FROM audit_log ORDER BY id DESC LIMIT ? OFFSET ?"))
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
            .fetch_one(p)
            .await?;
        Ok((rows, total))
    })
}
