//! Who a Palette token belongs to and what its user may see: the projects of `/v1/users/me` (its `projectPermissions` keys)
//! and tenant resources only with matching tenant permissions. Cached per user for
//! `auth.user_scope_ttl_seconds` per token (only tokens Palette accepted, LRU-capped) and
//! kept in SQLite, so scoping still applies while Palette is unreachable. Without a user token the caller sees the environment key's view: everything.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lru::LruCache;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::palette_user::{CheckKind, PaletteUser, TokenCache};
use crate::config::Secret;
use crate::error::{AppError, ErrorCode};
use crate::palette::pacing::Party;
use crate::palette::{Credential, Environment, PaletteError, Retries};
use crate::store::{Db, user_scopes};

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

pub use crate::store::visibility::Filter;

impl Visibility {
    pub fn filter(&self, kind: Kind) -> Filter {
        match self {
            Visibility::All => Filter {
                all: true,
                projects_json: "[]".into(),
                projects: Vec::new(),
                tenant: true,
            },
            Visibility::Limited {
                projects,
                tenant_permissions,
            } => Filter {
                all: false,
                projects_json: serde_json::to_string(projects).unwrap_or_else(|_| "[]".into()),
                projects: projects.clone(),
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

/// The Palette user Palette verified for a token (`/v1/users/me`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `spec.emailId`, lower case.
    pub email: Option<String>,
    pub uid: String,
    pub visibility: Visibility,
}

/// What Palette said about a token.
#[derive(Debug, Clone)]
pub enum Check {
    Verified(Identity),
    /// Palette refused it (401/403).
    Rejected,
    /// No answer (unreachable, timeout, 5xx) or too many refused tokens for this user lately:
    /// the error a read needing the user's scope gets when nothing is stored.
    Unknown(AppError),
}

impl Check {
    pub fn kind(&self) -> CheckKind {
        match self {
            Check::Verified(_) => CheckKind::Verified,
            Check::Rejected => CheckKind::Rejected,
            Check::Unknown(_) => CheckKind::Unknown,
        }
    }

    pub fn email(&self) -> Option<&str> {
        match self {
            Check::Verified(id) => id.email.as_deref(),
            _ => None,
        }
    }
}

/// Refused tokens allowed per claimed user and window before its unknown tokens wait.
const REFUSED_PER_WINDOW: u32 = 10;
const REFUSED_WINDOW: Duration = Duration::from_secs(60);
/// `/v1/users/me` verifications in flight at once, over all users.
const VERIFY_CONCURRENCY: usize = 8;

type Digest32 = [u8; 32];

/// Verified tokens (by digest of environment and token, only those Palette accepted), the
/// refused-token budget per claimed user, and the single-flight of verifications. Every map
/// is LRU-capped, so forged tokens cannot grow memory.
pub struct ScopeCache {
    ttl: Duration,
    capacity: usize,
    verified: Mutex<LruCache<Digest32, (Identity, Instant)>>,
    refused: Mutex<LruCache<Digest32, (Instant, u32)>>,
    inflight: Mutex<LruCache<Digest32, Arc<tokio::sync::Mutex<()>>>>,
    calls: tokio::sync::Semaphore,
    users_me_calls: std::sync::atomic::AtomicU64,
}

fn lru<K: std::hash::Hash + Eq, V>(n: usize) -> Mutex<LruCache<K, V>> {
    Mutex::new(LruCache::new(
        NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN),
    ))
}

fn digest_of(parts: &[&str]) -> Digest32 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize().into()
}

/// The hex digest a stored scope is found by.
fn token_digest(env: &str, token: &Secret) -> String {
    hex::encode(&digest_of(&[env, token.expose()])[..16])
}

impl ScopeCache {
    pub fn new(ttl_seconds: u64, capacity: usize) -> ScopeCache {
        ScopeCache {
            ttl: Duration::from_secs(ttl_seconds),
            capacity: capacity.max(1),
            verified: lru(capacity),
            refused: lru(capacity),
            inflight: lru(capacity),
            calls: tokio::sync::Semaphore::new(VERIFY_CONCURRENCY),
            users_me_calls: Default::default(),
        }
    }

    /// Verified tokens held in memory.
    pub fn len(&self) -> usize {
        self.verified.lock().map(|v| v.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `/v1/users/me` calls made to verify tokens since start.
    pub fn verifications(&self) -> u64 {
        self.users_me_calls
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn fresh(&self, key: &Digest32) -> Option<Identity> {
        let mut v = self.verified.lock().ok()?;
        match v.get(key) {
            Some((id, at)) if at.elapsed() < self.ttl => Some(id.clone()),
            _ => None,
        }
    }

    fn over_budget(&self, bucket: &Digest32) -> bool {
        self.refused.lock().ok().is_some_and(|mut r| {
            r.get(bucket).is_some_and(|(since, n)| {
                since.elapsed() < REFUSED_WINDOW && *n >= REFUSED_PER_WINDOW
            })
        })
    }

    fn count_refused(&self, bucket: Digest32) {
        if let Ok(mut r) = self.refused.lock() {
            match r.get_mut(&bucket) {
                Some((since, n)) if since.elapsed() < REFUSED_WINDOW => *n += 1,
                _ => {
                    r.put(bucket, (Instant::now(), 1));
                }
            }
        }
    }

    fn flight(&self, key: Digest32) -> Arc<tokio::sync::Mutex<()>> {
        match self.inflight.lock() {
            Ok(mut m) => m.get_or_insert(key, Default::default).clone(),
            Err(_) => Default::default(),
        }
    }
}

fn identity_of(me: &Value) -> Identity {
    let email = me["spec"]["emailId"]
        .as_str()
        .filter(|e| !e.is_empty())
        .map(str::to_ascii_lowercase);
    Identity {
        email,
        uid: me["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        visibility: parse_users_me(me),
    }
}

/// Asks Palette who `token` belongs to (`/v1/users/me`), from memory while fresh. Concurrent
/// checks of one token make one call; a claimed email whose tokens Palette keeps refusing
/// gets no more calls for a while (tokens without an email only share the global cap, so
/// one bad client behind a shared caller cannot block the others); at most
/// [`VERIFY_CONCURRENCY`] calls run at once. Only an accepted token is remembered, and its
/// scope is stored (see `store::user_scopes`).
pub async fn verify(
    cache: &ScopeCache,
    db: &Db,
    env: &Environment,
    token: &Secret,
    claimed: Option<&str>,
    subject: &str,
) -> Check {
    let key = digest_of(&[env.name(), token.expose()]);
    if let Some(id) = cache.fresh(&key) {
        return Check::Verified(id);
    }
    let flight = cache.flight(key);
    let _one = flight.lock().await;
    if let Some(id) = cache.fresh(&key) {
        return Check::Verified(id);
    }
    let bucket = claimed.map(|c| digest_of(&[env.name(), &c.to_ascii_lowercase()]));
    if bucket.is_some_and(|b| cache.over_budget(&b)) {
        return Check::Unknown(
            AppError::new(
                ErrorCode::Throttled,
                "too many refused Palette tokens for this user; try again in a minute",
            )
            .with_retry_after(REFUSED_WINDOW.as_secs()),
        );
    }
    let Ok(_permit) = cache.calls.acquire().await else {
        return Check::Unknown(AppError::internal("verifying a Palette token", "closed"));
    };
    cache
        .users_me_calls
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let me = env
        .client
        .get("/v1/users/me")
        .credential(Credential::User(token.expose()))
        // Checks count against the caller's fair share, as any of its calls.
        .party(Party::new(subject, "(unverified token)"))
        .retries(Retries::Interactive)
        .json()
        .await;
    match me {
        Ok(me) => {
            let id = identity_of(&me);
            store_scope(cache, db, env.name(), token, &id).await;
            if let Ok(mut v) = cache.verified.lock() {
                v.put(key, (id.clone(), Instant::now()));
            }
            Check::Verified(id)
        }
        Err(PaletteError::Unauthorized { .. } | PaletteError::Forbidden { .. }) => {
            if let Some(b) = bucket {
                cache.count_refused(b);
            }
            if let Ok(mut v) = cache.verified.lock() {
                v.pop(&key);
            }
            Check::Rejected
        }
        Err(e) => Check::Unknown(users_me_failed(e)),
    }
}

fn users_me_failed(e: PaletteError) -> AppError {
    let mut err = match e {
        // Without /v1/users/me there is no telling what the user may see.
        PaletteError::NotFound { .. } => AppError::new(ErrorCode::PaletteError, e.to_string()),
        e => AppError::from(e),
    };
    err.message = format!(
        "cannot determine what this Palette user may see: {}",
        err.message
    );
    err
}

async fn store_scope(cache: &ScopeCache, db: &Db, env: &str, token: &Secret, id: &Identity) {
    let Visibility::Limited {
        projects,
        tenant_permissions,
    } = &id.visibility
    else {
        return;
    };
    let user_key = match &id.email {
        Some(e) if id.uid.is_empty() => format!("email:{e}"),
        _ => format!("uid:{}", id.uid),
    };
    let digest = token_digest(env, token);
    let row = user_scopes::NewScope {
        env,
        user_key: &user_key,
        email: id.email.as_deref(),
        token_digest: &digest,
        scope: user_scopes::StoredScope {
            project_uids: serde_json::to_string(projects).unwrap_or_default(),
            tenant_permissions: serde_json::to_string(tenant_permissions).unwrap_or_default(),
        },
    };
    if let Err(e) = user_scopes::save(db, row, cache.capacity).await {
        tracing::warn!(error = %e, "cannot store a user scope");
    }
}

/// The visibility of `user` in `env`: the verified user's, else — Palette unreachable — the
/// last stored one for that token, else the error. Without a token, or with one Palette
/// refused, the environment key's view (the original's default; `require_user_token` refuses
/// such requests before they get here).
pub async fn resolve(
    db: &Db,
    _cache: &ScopeCache,
    _tokens: &TokenCache,
    env: &Environment,
    user: &PaletteUser,
) -> Result<Visibility, AppError> {
    let (Some(token), Some(check)) = (&user.token, &user.check) else {
        return Ok(Visibility::All);
    };
    match check {
        Check::Verified(id) => Ok(id.visibility.clone()),
        Check::Rejected => Ok(Visibility::All),
        Check::Unknown(e) => {
            match user_scopes::by_token(db, env.name(), &token_digest(env.name(), token)).await? {
                Some(s) => {
                    tracing::warn!(env = env.name(), error = %e, "Palette unreachable: using the stored user scope");
                    Ok(Visibility::Limited {
                        projects: serde_json::from_str(&s.project_uids).unwrap_or_default(),
                        tenant_permissions: serde_json::from_str(&s.tenant_permissions)
                            .unwrap_or_default(),
                    })
                }
                None => Err(e.clone()),
            }
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
