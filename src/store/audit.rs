//! The `audit_log` table.

use sqlx::Row;

use super::{Db, now_text};

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
    pub outcome: &'a str,
    pub detail: Option<&'a str>,
}

pub async fn insert(db: &Db, e: &NewEntry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (at, subject, palette_email, claimed_email, palette_user_uid, credential,
                                action, env, object_uid, outcome, detail)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(now_text())
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
    .execute(&db.writer)
    .await?;
    Ok(())
}

#[derive(Debug, serde::Serialize)]
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
    pub outcome: String,
    pub detail: Option<String>,
}

/// Newest first, and the total.
pub async fn list(db: &Db, limit: i64, offset: i64) -> Result<(Vec<Entry>, i64), sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, at, subject, palette_email, claimed_email, palette_user_uid, credential,
                action, env, object_uid, outcome, detail
         FROM audit_log ORDER BY id DESC LIMIT ? OFFSET ?",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.reader)
    .await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&db.reader)
        .await?;
    Ok((
        rows.iter()
            .map(|r| Entry {
                id: r.get(0),
                at: r.get(1),
                subject: r.get(2),
                palette_email: r.get(3),
                claimed_email: r.get(4),
                palette_user_uid: r.get(5),
                credential: r.get(6),
                action: r.get(7),
                environment: r.get(8),
                object_uid: r.get(9),
                outcome: r.get(10),
                detail: r.get(11),
            })
            .collect(),
        total,
    ))
}
