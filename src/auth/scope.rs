//! What a Palette user may see: the projects of `/v1/users/me` (its `projectPermissions` keys)
//! and tenant resources only with matching tenant permissions. Cached per user for
//! `auth.user_scope_ttl_seconds` and kept in SQLite, so scoping still applies while Palette is
//! unreachable. Without a user token the caller sees the environment key's view: everything.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::Row;

use super::palette_user::{PaletteUser, TokenCache};
use crate::error::AppError;
use crate::palette::{Environment, PaletteError, Retries};
use crate::store::{Db, now_text};

/// Kinds of mirrored objects, each with the tenant permissions that reveal its tenant-scoped
/// objects (as the original decides for clusters and virtual clusters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Cluster,
    VirtualCluster,
    Profile,
    CloudAccount,
    ClusterGroup,
    Overlord,
}

impl Kind {
    fn tenant_permissions(self) -> &'static [&'static str] {
        match self {
            Kind::Cluster => &["cluster.list", "cluster.get"],
            Kind::VirtualCluster => &[
                "cluster.list",
                "cluster.get",
                "virtualCluster.list",
                "virtualCluster.get",
            ],
            Kind::Profile => &["clusterProfile.list", "clusterProfile.get"],
            Kind::CloudAccount => &["cloudaccount.list", "cloudaccount.get"],
            Kind::ClusterGroup => &["clusterGroup.list", "clusterGroup.get"],
            Kind::Overlord => &[
                "privateCloudGateway.list",
                "privateCloudGateway.get",
                "cluster.list",
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// The environment key's view.
    All,
    Limited {
        projects: Vec<String>,
        tenant_permissions: Vec<String>,
    },
}

/// Parameters of the `visible!()` SQL predicate (see `store`): everything?, project uids as a
/// JSON array, tenant objects too?
pub struct Filter {
    pub all: bool,
    pub projects_json: String,
    pub tenant: bool,
}

impl Visibility {
    pub fn filter(&self, kind: Kind) -> Filter {
        match self {
            Visibility::All => Filter {
                all: true,
                projects_json: "[]".into(),
                tenant: true,
            },
            Visibility::Limited {
                projects,
                tenant_permissions,
            } => Filter {
                all: false,
                projects_json: serde_json::to_string(projects).unwrap_or_else(|_| "[]".into()),
                // Tenant profiles are usable in every project (Palette shows them there), so
                // any project member sees them; other tenant objects need the permission.
                tenant: (kind == Kind::Profile && !projects.is_empty())
                    || kind
                        .tenant_permissions()
                        .iter()
                        .any(|p| tenant_permissions.iter().any(|t| t == p)),
            },
        }
    }

    /// Whether an object of `kind` in `project` (None = tenant) is visible.
    pub fn sees(&self, kind: Kind, project: Option<&str>) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Limited { projects, .. } => match project {
                Some(p) => projects.iter().any(|x| x == p),
                None => self.filter(kind).tenant,
            },
        }
    }

    pub fn projects(&self) -> Option<&[String]> {
        match self {
            Visibility::All => None,
            Visibility::Limited { projects, .. } => Some(projects),
        }
    }
}

/// In-memory cache of visibilities, in front of `user_scopes`.
pub struct ScopeCache {
    ttl: Duration,
    entries: Mutex<HashMap<(String, String), (Visibility, Instant)>>,
}

impl ScopeCache {
    pub fn new(ttl_seconds: u64) -> ScopeCache {
        ScopeCache {
            ttl: Duration::from_secs(ttl_seconds),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, env: &str, key: &str) -> Option<Visibility> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(&(env.to_string(), key.to_string()))
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(v, _)| v.clone())
    }

    fn put(&self, env: &str, key: &str, v: Visibility) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() > 10_000 {
                let ttl = self.ttl;
                entries.retain(|_, (_, at)| at.elapsed() < ttl);
            }
            entries.insert((env.to_string(), key.to_string()), (v, Instant::now()));
        }
    }

    fn forget(&self, env: &str, key: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&(env.to_string(), key.to_string()));
        }
    }
}

fn parse_users_me(me: &Value) -> Visibility {
    let projects = me["status"]["projectPermissions"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let tenant_permissions = me["status"]["tenantPermissions"]["tenant"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Visibility::Limited {
        projects,
        tenant_permissions,
    }
}

async fn load(db: &Db, env: &str, key: &str) -> Result<Option<Visibility>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT project_uids, tenant_permissions FROM user_scopes WHERE env = ? AND user_key = ?",
    )
    .bind(env)
    .bind(key)
    .fetch_optional(&db.reader)
    .await?;
    Ok(row.map(|r| Visibility::Limited {
        projects: serde_json::from_str(r.get::<&str, _>(0)).unwrap_or_default(),
        tenant_permissions: serde_json::from_str(r.get::<&str, _>(1)).unwrap_or_default(),
    }))
}

async fn save(
    db: &Db,
    env: &str,
    key: &str,
    email: Option<&str>,
    v: &Visibility,
) -> Result<(), sqlx::Error> {
    let Visibility::Limited {
        projects,
        tenant_permissions,
    } = v
    else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO user_scopes (env, user_key, email, project_uids, tenant_permissions, fetched_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (env, user_key) DO UPDATE SET email = excluded.email, project_uids = excluded.project_uids,
            tenant_permissions = excluded.tenant_permissions, fetched_at = excluded.fetched_at",
    )
    .bind(env)
    .bind(key)
    .bind(email)
    .bind(serde_json::to_string(projects).unwrap_or_default())
    .bind(serde_json::to_string(tenant_permissions).unwrap_or_default())
    .bind(now_text())
    .execute(&db.writer)
    .await?;
    Ok(())
}

/// The visibility of `user` in `env`: from memory, else `/v1/users/me` with the user's token
/// (stored in SQLite), else — Palette unreachable — the last stored one. A token Palette
/// rejects is evicted and the request falls back to the environment key's view.
pub async fn resolve(
    db: &Db,
    cache: &ScopeCache,
    tokens: &TokenCache,
    env: &Environment,
    user: &PaletteUser,
) -> Result<Visibility, AppError> {
    let Some(key) = user.scope_key() else {
        return Ok(Visibility::All);
    };
    if let Some(v) = cache.get(env.name(), &key) {
        return Ok(v);
    }
    let me = env
        .client
        .get("/v1/users/me")
        .credential(user.credential())
        .retries(Retries::Interactive)
        .json()
        .await;
    match me {
        Ok(me) => {
            let v = parse_users_me(&me);
            if let Err(e) = save(db, env.name(), &key, user.email.as_deref(), &v).await {
                tracing::warn!(error = %e, "cannot store a user scope");
            }
            cache.put(env.name(), &key, v.clone());
            Ok(v)
        }
        Err(PaletteError::Unauthorized { .. }) => {
            user.rejected(tokens);
            cache.forget(env.name(), &key);
            Ok(Visibility::All)
        }
        Err(e) => match load(db, env.name(), &key).await? {
            Some(v) => {
                tracing::warn!(env = env.name(), error = %e, "Palette unreachable: using the stored user scope");
                Ok(v)
            }
            None => {
                let mut err = match e {
                    // Without /v1/users/me there is no telling what the user may see.
                    PaletteError::NotFound { .. } => {
                        AppError::new(crate::error::ErrorCode::PaletteError, e.to_string())
                    }
                    e => AppError::from(e),
                };
                err.message = format!(
                    "cannot determine what this Palette user may see: {}",
                    err.message
                );
                Err(err)
            }
        },
    }
}
