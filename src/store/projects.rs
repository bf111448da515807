//! Projects, read from the mirror.

use super::{Db, Page};

#[derive(Debug, sqlx::FromRow)]
pub struct ProjectName {
    pub uid: String,
    pub name: String,
}

pub const LIST_SQL: &str = "SELECT json FROM projects WHERE env = ? AND (? IS NULL OR uid IN (SELECT value FROM json_each(?)))
         ORDER BY name, uid LIMIT ? OFFSET ?";

/// Project list items; `only` restricts to a user's projects.
pub async fn list(
    db: &Db,
    env: &str,
    only: Option<&[String]>,
    page: Page,
) -> Result<Vec<String>, sqlx::Error> {
    read!(db, |p, d| {
        let only_json = only.map(|p| serde_json::to_string(p).unwrap_or_else(|_| "[]".into()));
        sqlx::query_scalar(sql!(d, LIST_SQL))
            .bind(env)
            .bind(only_json.as_deref())
            .bind(only_json.as_deref().unwrap_or("[]"))
            .bind(d.limit(page.limit))
            .bind(page.offset)
            .fetch_all(p)
            .await
    })
}

pub const NAMES_SQL: &str = "SELECT uid, name FROM projects WHERE env = ? AND (? IS NULL OR uid IN (SELECT value FROM json_each(?)))
         ORDER BY name, uid";

/// Uids and names of projects; `only` restricts to a user's projects.
pub async fn names(
    db: &Db,
    env: &str,
    only: Option<&[String]>,
) -> Result<Vec<ProjectName>, sqlx::Error> {
    read!(db, |p, d| {
        let only_json = only.map(|p| serde_json::to_string(p).unwrap_or_else(|_| "[]".into()));
        sqlx::query_as(sql!(d, NAMES_SQL))
            .bind(env)
            .bind(only_json.as_deref())
            .bind(only_json.as_deref().unwrap_or("[]"))
            .fetch_all(p)
            .await
    })
}

pub const EXISTS_SQL: &str = "SELECT count(*) FROM projects WHERE env = ? AND uid = ?";

pub async fn exists(db: &Db, env: &str, uid: &str) -> Result<bool, sqlx::Error> {
    read!(db, |p, d| {
        let n: i64 = sqlx::query_scalar(sql!(d, EXISTS_SQL))
            .bind(env)
            .bind(uid)
            .fetch_one(p)
            .await?;
        Ok(n > 0)
    })
}
