//! Cloud accounts and cluster groups, read from the mirror (lists of gateways and groups go
//! through `store::list_json`).

use super::visibility::{Filter, Visible};
use super::{Db, Page};

/// Which accounts: a cloud type, and with `project` that project's and tenant accounts.
pub struct AccountsOf<'a> {
    pub cloud_type: &'a str,
    pub project: Option<&'a str>,
}

/// A stored object and the project owning it (None = tenant).
#[derive(Debug, sqlx::FromRow)]
pub struct Owned {
    pub project_uid: Option<String>,
    pub json: String,
}

pub const ACCOUNTS_SQL: &str = concat!(
    "SELECT json FROM cloud_accounts WHERE env = ? AND cloud_type = ?
           AND (? IS NULL OR project_uid = ? OR project_uid IS NULL) AND ",
    visible!(),
    " ORDER BY name, uid LIMIT ? OFFSET ?"
);

/// Accounts of a cloud type, ordered by name.
pub async fn accounts(
    db: &Db,
    env: &str,
    of: &AccountsOf<'_>,
    vis: &Filter,
    page: Page,
) -> Result<Vec<String>, sqlx::Error> {
    read!(db, |p, d| {
        let q = sqlx::query_scalar(sql!(d, ACCOUNTS_SQL))
            .bind(env)
            .bind(of.cloud_type)
            .bind(of.project)
            .bind(of.project);
        q.visible_to(vis)
            .bind(d.limit(page.limit))
            .bind(page.offset)
            .fetch_all(p)
            .await
    })
}

pub const ACCOUNT_SQL: &str =
    "SELECT project_uid, json FROM cloud_accounts WHERE env = ? AND cloud_type = ? AND uid = ?";

/// One account.
pub async fn account(
    db: &Db,
    env: &str,
    cloud_type: &str,
    uid: &str,
) -> Result<Option<Owned>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as(sql!(d, ACCOUNT_SQL))
            .bind(env)
            .bind(cloud_type)
            .bind(uid)
            .fetch_optional(p)
            .await
    })
}

pub const CLUSTER_GROUP_SQL: &str = "SELECT project_uid, COALESCE(detail_json, list_json) AS json FROM cluster_groups WHERE env = ? AND uid = ?";

/// One cluster group: its detail JSON or, before details arrive, its list item.
pub async fn cluster_group(db: &Db, env: &str, uid: &str) -> Result<Option<Owned>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as(sql!(d, CLUSTER_GROUP_SQL))
            .bind(env)
            .bind(uid)
            .fetch_optional(p)
            .await
    })
}

pub const ACCOUNT_CLOUD_SQL: &str =
    "SELECT cloud_type FROM cloud_accounts WHERE env = ? AND uid = ? LIMIT 1";

/// The cloud type of a mirrored cloud account, whatever its kind.
pub async fn account_cloud(db: &Db, env: &str, uid: &str) -> Result<Option<String>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_scalar(sql!(d, ACCOUNT_CLOUD_SQL))
            .bind(env)
            .bind(uid)
            .fetch_optional(p)
            .await
    })
}

pub const HAS_ACCOUNTS_SQL: &str = "SELECT EXISTS (SELECT 1 FROM cloud_accounts WHERE env = ?)";

/// Whether the mirror holds any cloud account of `env` (false before its first sync).
pub async fn has_accounts(db: &Db, env: &str) -> Result<bool, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_scalar(sql!(d, HAS_ACCOUNTS_SQL))
            .bind(env)
            .fetch_one(p)
            .await
    })
}

/// A private cloud gateway (overlord) as mirrored: its list item carries `spec.ipPools`.
#[derive(Debug, sqlx::FromRow)]
pub struct GatewayRow {
    pub uid: String,
    pub name: String,
    pub json: String,
}

pub const ACCOUNT_GATEWAY_SQL: &str = concat!(
    "SELECT uid, name, json FROM overlords WHERE env = ? AND uid = (",
    "SELECT json_extract(json, '$.metadata.annotations.overlordUid') FROM cloud_accounts",
    " WHERE env = ? AND uid = ? LIMIT 1)"
);

const ACCOUNT_GATEWAY_POSTGRES_SQL: &str = concat!(
    "SELECT uid, name, json FROM overlords WHERE env = ? AND uid = (",
    "SELECT CAST(json AS json) #>> '{metadata,annotations,overlordUid}' FROM cloud_accounts",
    " WHERE env = ? AND uid = ? LIMIT 1)"
);

/// The gateway a cloud account is linked to (its `overlordUid` annotation), if both are mirrored.
pub async fn account_gateway(
    db: &Db,
    env: &str,
    account_uid: &str,
) -> Result<Option<GatewayRow>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as(sql!(d, sqlite: ACCOUNT_GATEWAY_SQL, postgres: ACCOUNT_GATEWAY_POSTGRES_SQL))
            .bind(env)
            .bind(env)
            .bind(account_uid)
            .fetch_optional(p)
            .await
    })
}
