//! Idempotency keys of creation requests: claimed before Palette is called, completed with the
//! answer, released when the call fails, forgotten after their lifetime.

use sqlx::Sqlite;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;

use super::Db;

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: the caller goes ahead and later completes or releases it.
    Claimed,
    /// The key was used with the same body and answered: repeat `(status, answer)`.
    Answered(u16, String),
    /// The key was used with the same body and that creation is still under way.
    InFlight,
    /// The key was used with another body.
    OtherBody,
}

pub struct KeyRef<'a> {
    pub env: &'a str,
    pub subject: &'a str,
    pub key: &'a str,
}

impl KeyRef<'_> {
    /// Binds the key where the SQL ends in `env = ? AND subject = ? AND key = ?`.
    fn bound<'q>(
        &self,
        q: Query<'q, Sqlite, SqliteArguments>,
    ) -> Query<'q, Sqlite, SqliteArguments> {
        q.bind(self.env).bind(self.subject).bind(self.key)
    }
}

/// A key on record.
#[derive(sqlx::FromRow)]
struct Stored {
    body_hash: String,
    status: Option<i64>,
    answer: Option<String>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims `k` for a body of `body_hash`, first forgetting keys older than `ttl_seconds`.
pub async fn claim(
    db: &Db,
    k: &KeyRef<'_>,
    body_hash: &str,
    ttl_seconds: i64,
) -> Result<Claim, sqlx::Error> {
    let now = now();
    let mut tx = super::writer::begin(db).await?;
    sqlx::query("DELETE FROM idempotency_keys WHERE created_at < ?")
        .bind(now - ttl_seconds)
        .execute(&mut *tx)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (env, subject, key, body_hash, created_at)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (env, subject, key) DO NOTHING",
    )
    .bind(k.env)
    .bind(k.subject)
    .bind(k.key)
    .bind(body_hash)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let claim = if inserted > 0 {
        Claim::Claimed
    } else {
        let row: Stored = sqlx::query_as(
            "SELECT body_hash, status, answer FROM idempotency_keys
             WHERE env = ? AND subject = ? AND key = ?",
        )
        .bind(k.env)
        .bind(k.subject)
        .bind(k.key)
        .fetch_one(&mut *tx)
        .await?;
        match (row.body_hash == body_hash, row.status, row.answer) {
            (false, _, _) => Claim::OtherBody,
            (true, Some(s), Some(a)) => Claim::Answered(u16::try_from(s).unwrap_or(201), a),
            (true, _, _) => Claim::InFlight,
        }
    };
    tx.commit().await?;
    Ok(claim)
}

/// Records the answer of a claimed key.
pub async fn complete(
    db: &Db,
    k: &KeyRef<'_>,
    status: u16,
    answer: &str,
) -> Result<(), sqlx::Error> {
    let sql = "UPDATE idempotency_keys SET status = ?, answer = ? \
               WHERE env = ? AND subject = ? AND key = ?";
    let q = sqlx::query(sql).bind(i64::from(status)).bind(answer);
    k.bound(q).execute(&db.writer).await.map(|_| ())
}

/// Forgets a claimed key whose creation failed, so a retry may try again.
pub async fn release(db: &Db, k: &KeyRef<'_>) -> Result<(), sqlx::Error> {
    let sql = "DELETE FROM idempotency_keys \
               WHERE status IS NULL AND env = ? AND subject = ? AND key = ?";
    k.bound(sqlx::query(sql))
        .execute(&db.writer)
        .await
        .map(|_| ())
}
