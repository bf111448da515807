//! Fleet page sessions (`ui_sessions`): created at sign-in, read on every page request,
//! deleted at sign-out; expired ones are pruned and each subject keeps its newest few.

use super::Db;

/// A session to store; `id_hash` is the hex SHA-256 of the id in the cookie.
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub subject: &'a str,
    pub groups_json: &'a str,
    pub method: &'a str,
    pub palette_user: Option<&'a str>,
    pub token_digest: Option<&'a str>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A live session as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub subject: String,
    pub groups_json: String,
    pub method: String,
    pub palette_user: Option<String>,
    pub token_digest: Option<String>,
    pub expires_at: i64,
}

/// Stores `s`, drops every expired session, and keeps only the subject's `keep` newest.
/// Returns how many of the subject's older sessions were ended by the cap.
pub async fn create(db: &Db, s: &NewSession<'_>, keep: usize) -> Result<u64, sqlx::Error> {
    let mut tx = super::writer::begin_bookkeeping(db).await?;
    let ended = on!(&mut tx, |c, d| {
        sqlx::query(sql!(d, "DELETE FROM ui_sessions WHERE expires_at <= ?"))
            .bind(s.created_at)
            .execute(&mut *c)
            .await?;
        sqlx::query(sql!(
            d,
            "INSERT INTO ui_sessions (id_hash, subject, groups_json, method, palette_user,
                                      token_digest, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(s.id_hash)
        .bind(s.subject)
        .bind(s.groups_json)
        .bind(s.method)
        .bind(s.palette_user)
        .bind(s.token_digest)
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute(&mut *c)
        .await?;
        // Among sessions of the same second the one just stored is the newest; the rest go by
        // creation order (SQLite's rowid, PostgreSQL's `seq`).
        sqlx::query(sql!(
            d,
            sqlite: "DELETE FROM ui_sessions WHERE subject = ? AND id_hash NOT IN
               (SELECT id_hash FROM ui_sessions WHERE subject = ?
                ORDER BY created_at DESC, id_hash = ? DESC, rowid DESC LIMIT ?)",
            postgres: "DELETE FROM ui_sessions WHERE subject = ? AND id_hash NOT IN
               (SELECT id_hash FROM ui_sessions WHERE subject = ?
                ORDER BY created_at DESC, id_hash = ? DESC, seq DESC LIMIT ?)"
        ))
        .bind(s.subject)
        .bind(s.subject)
        .bind(s.id_hash)
        .bind(i64::try_from(keep).unwrap_or(i64::MAX))
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    tx.commit().await?;
    Ok(ended)
}

/// The session of `id_hash` if it has not expired at `now`.
pub async fn find(db: &Db, id_hash: &str, now: i64) -> Result<Option<SessionRow>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as(sql!(
            d,
            "SELECT subject, groups_json, method, palette_user, token_digest, expires_at
             FROM ui_sessions WHERE id_hash = ? AND expires_at > ?"
        ))
        .bind(id_hash)
        .bind(now)
        .fetch_optional(p)
        .await
    })
}

/// Ends the session of `id_hash`; true when there was one.
pub async fn delete(db: &Db, id_hash: &str) -> Result<bool, sqlx::Error> {
    let n = write!(db, |p, d| {
        sqlx::query(sql!(d, "DELETE FROM ui_sessions WHERE id_hash = ?"))
            .bind(id_hash)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}
