//! Cloud accounts and cluster groups, read from the mirror (lists of gateways and groups go
//! through `store::list_json`).

use sqlx::Row;

use super::{Db, Page, bind_visible};
use crate::auth::scope::Filter;

fn texts(rows: Vec<sqlx::sqlite::SqliteRow>) -> Vec<String> {
    rows.iter().map(|r| r.get(0)).collect()
}

/// Accounts of a cloud type; with `project`, that project's and tenant accounts.
pub async fn accounts(
    db: &Db,
    env: &str,
    cloud_type: &str,
    project: Option<&str>,
    vis: &Filter,
    page: Page,
) -> Result<Vec<String>, sqlx::Error> {
    let q = sqlx::query(concat!(
        "SELECT json FROM cloud_accounts WHERE env = ? AND cloud_type = ?
           AND (? IS NULL OR project_uid = ? OR project_uid IS NULL) AND ",
        visible!(),
        " ORDER BY name, uid LIMIT ? OFFSET ?"
    ))
    .bind(env)
    .bind(cloud_type)
    .bind(project)
    .bind(project);
    Ok(texts(
        bind_visible(q, vis)
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(&db.reader)
            .await?,
    ))
}

/// One account: (project uid, JSON).
pub async fn account(
    db: &Db,
    env: &str,
    cloud_type: &str,
    uid: &str,
) -> Result<Option<(Option<String>, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT project_uid, json FROM cloud_accounts WHERE env = ? AND cloud_type = ? AND uid = ?",
    )
    .bind(env)
    .bind(cloud_type)
    .bind(uid)
    .fetch_optional(&db.reader)
    .await
}

/// One cluster group: (project uid, detail JSON or, before details arrive, its list item).
pub async fn cluster_group(
    db: &Db,
    env: &str,
    uid: &str,
) -> Result<Option<(Option<String>, String)>, sqlx::Error> {
    sqlx::query_as("SELECT project_uid, COALESCE(detail_json, list_json) FROM cluster_groups WHERE env = ? AND uid = ?")
        .bind(env)
        .bind(uid)
        .fetch_optional(&db.reader)
        .await
}

/// (uid, name, project uid) of cluster groups; `project` narrows to its and tenant groups.
pub async fn group_names(
    db: &Db,
    env: &str,
    project: Option<&str>,
) -> Result<Vec<(String, String, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT uid, name, project_uid FROM cluster_groups WHERE env = ?
           AND (? IS NULL OR project_uid = ? OR project_uid IS NULL) ORDER BY name, uid",
    )
    .bind(env)
    .bind(project)
    .bind(project)
    .fetch_all(&db.reader)
    .await
}

/// (uid, name) of the accounts of a cloud type.
pub async fn account_names(
    db: &Db,
    env: &str,
    cloud_type: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT uid, name FROM cloud_accounts WHERE env = ? AND cloud_type = ? ORDER BY name, uid",
    )
    .bind(env)
    .bind(cloud_type)
    .fetch_all(&db.reader)
    .await
}

/// The cloud type of a mirrored cloud account, whatever its kind.
pub async fn account_cloud(db: &Db, env: &str, uid: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT cloud_type FROM cloud_accounts WHERE env = ? AND uid = ? LIMIT 1")
        .bind(env)
        .bind(uid)
        .fetch_optional(&db.reader)
        .await
}

/// Whether the mirror holds any cloud account of `env` (false before its first sync).
pub async fn has_accounts(db: &Db, env: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM cloud_accounts WHERE env = ?)")
        .bind(env)
        .fetch_one(&db.reader)
        .await
}
