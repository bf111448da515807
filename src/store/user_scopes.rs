//! Stored visibilities of verified Palette users (`user_scopes`), so scoping still applies
//! while Palette is unreachable. One row per Palette user and environment, found by the
//! digest of the last token Palette accepted for that user; at most `cap` rows per
//! environment (the least recently verified go first).

use super::{Db, now_text};

/// A stored scope: project uids and tenant permissions, both JSON arrays.
#[derive(sqlx::FromRow)]
pub struct StoredScope {
    pub project_uids: String,
    pub tenant_permissions: String,
}

/// The scope stored for the user whose last accepted token has `digest`.
pub async fn by_token(
    db: &Db,
    env: &str,
    digest: &str,
) -> Result<Option<StoredScope>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as::<_, StoredScope>(sql!(
            d,
            "SELECT project_uids, tenant_permissions FROM user_scopes WHERE env = ? AND token_digest = ?"
        ))
        .bind(env)
        .bind(digest)
        .fetch_optional(p)
        .await
    })
}

/// One verified user's scope.
pub struct NewScope<'a> {
    pub env: &'a str,
    pub user_key: &'a str,
    pub email: Option<&'a str>,
    pub token_digest: &'a str,
    pub scope: StoredScope,
}

/// Upserts a user's scope, then keeps the newest `cap` rows of the environment.
pub async fn save(db: &Db, s: NewScope<'_>, cap: usize) -> Result<(), sqlx::Error> {
    // Bookkeeping: answers are keyed by the caller's visibility already, so a stored scope
    // must not empty every cached answer (on every replica).
    let mut tx = super::writer::begin_bookkeeping(db).await?;
    on!(&mut tx, |c, d| {
        sqlx::query(sql!(
            d,
            "INSERT INTO user_scopes (env, user_key, email, project_uids, tenant_permissions, fetched_at, token_digest)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (env, user_key) DO UPDATE SET email = excluded.email, project_uids = excluded.project_uids,
                tenant_permissions = excluded.tenant_permissions, fetched_at = excluded.fetched_at,
                token_digest = excluded.token_digest"
        ))
        .bind(s.env)
        .bind(s.user_key)
        .bind(s.email)
        .bind(&s.scope.project_uids)
        .bind(&s.scope.tenant_permissions)
        .bind(now_text())
        .bind(s.token_digest)
        .execute(&mut *c)
        .await?;
        // Plain `?` placeholders (env bound twice): the PostgreSQL translation numbers them.
        sqlx::query(sql!(
            d,
            "DELETE FROM user_scopes WHERE env = ? AND user_key NOT IN
                (SELECT user_key FROM user_scopes WHERE env = ? ORDER BY fetched_at DESC LIMIT ?)"
        ))
        .bind(s.env)
        .bind(s.env)
        .bind(i64::try_from(cap).unwrap_or(i64::MAX))
        .execute(&mut *c)
        .await?;
    });
    tx.commit().await
}

/// Rows stored for `env`.
pub async fn count(db: &Db, env: &str) -> Result<i64, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_scalar(sql!(d, "SELECT count(*) FROM user_scopes WHERE env = ?"))
            .bind(env)
            .fetch_one(p)
            .await
    })
}
