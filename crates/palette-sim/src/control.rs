//! The simulator's control API under `/__sim/`: users and fresh tokens, knobs, request
//! counters, a data summary, and mutations (cluster state, deletion, profile moves, new profile
//! versions) so tests can change Palette under a running service.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::data::{ProfileVersion, SimData, new_uid, packs_for};
use super::{Knobs, SimState};

type Answer = Result<HttpResponse, actix_web::Error>;

fn bad(msg: impl Into<String>) -> actix_web::Error {
    actix_web::error::ErrorBadRequest(msg.into())
}

fn missing(msg: impl Into<String>) -> actix_web::Error {
    actix_web::error::ErrorNotFound(msg.into())
}

fn poisoned() -> actix_web::Error {
    actix_web::error::ErrorInternalServerError("state lock poisoned")
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/__sim")
            .route("/users", web::get().to(users))
            .route("/tokens", web::post().to(token))
            .route("/knobs", web::get().to(get_knobs))
            .route("/knobs", web::put().to(put_knobs))
            .route("/counters", web::get().to(counters))
            .route("/counters", web::delete().to(reset_counters))
            .route("/counters/throttled", web::get().to(throttled))
            .route("/summary", web::get().to(get_summary))
            .route("/creations", web::get().to(creations))
            .route("/churn", web::post().to(churn))
            .route("/clusters/{uid}/state", web::post().to(set_state))
            .route("/clusters/{uid}/profiles", web::post().to(move_profile))
            .route("/clusters/{uid}", web::delete().to(delete_cluster))
            .route("/profiles/{uid}/versions", web::post().to(publish_version)),
    );
}

/// Counts of every kind of object, for humans and tests.
pub fn summary(d: &SimData) -> Value {
    json!({
        "projects": d.projects.len(),
        "clusters": d.clusters.len(),
        "virtual_clusters": d.clusters.iter().filter(|c| c.cloud_type == "nested").count(),
        "profiles": d.profiles.len(),
        "profile_versions": d.profile_version_count(),
        "cloud_accounts": d.cloud_accounts.len(),
        "overlords": d.overlords.len(),
        "cluster_groups": d.cluster_groups.len(),
        "ssh_keys": d.ssh_keys.len(),
        "users": d.users.len(),
    })
}

/// The newest creation requests received, oldest first: `[{path, body, status}]`.
async fn creations(state: web::Data<SimState>) -> Answer {
    let d = state.data.read().map_err(|_| poisoned())?;
    Ok(HttpResponse::Ok().json(&d.creations))
}

/// One demo churn step now (`sim::churn`): `{changes: [...]}`.
async fn churn(state: web::Data<SimState>) -> Answer {
    Ok(HttpResponse::Ok().json(json!({ "changes": state.churn() })))
}

async fn users(state: web::Data<SimState>) -> Answer {
    let users = state.data.read().map_err(|_| poisoned())?.users.clone();
    let ttl = state.knobs().token_ttl_seconds as i64;
    let out: Vec<Value> = users
        .iter()
        .map(|u| {
            json!({
                "uid": u.uid,
                "email": u.email,
                "admin": u.admin,
                "projects": u.project_uids,
                "tenantPermissions": u.tenant_permissions,
                "token": state.mint_token(&u.uid, &u.email, ttl),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Deserialize)]
struct TokenRequest {
    email: String,
    /// Negative values mint an already expired token.
    ttl_seconds: Option<i64>,
}

async fn token(state: web::Data<SimState>, body: web::Json<TokenRequest>) -> Answer {
    let user = state
        .data
        .read()
        .map_err(|_| poisoned())?
        .user_by_email(&body.email)
        .cloned()
        .ok_or_else(|| missing(format!("no simulated user {}", body.email)))?;
    let ttl = body
        .ttl_seconds
        .unwrap_or(state.knobs().token_ttl_seconds as i64);
    Ok(HttpResponse::Ok().json(json!({ "token": state.mint_token(&user.uid, &user.email, ttl) })))
}

async fn get_knobs(state: web::Data<SimState>) -> Answer {
    Ok(HttpResponse::Ok().json(state.knobs()))
}

/// Partial update: only the fields sent change.
async fn put_knobs(state: web::Data<SimState>, body: web::Json<Value>) -> Answer {
    let mut current = serde_json::to_value(state.knobs()).map_err(|e| bad(e.to_string()))?;
    let Some(patch) = body.as_object() else {
        return Err(bad("knobs must be a JSON object"));
    };
    for (k, v) in patch {
        current[k] = v.clone();
    }
    let knobs: Knobs =
        serde_json::from_value(current).map_err(|e| bad(format!("invalid knobs: {e}")))?;
    if !(0.0..=1.0).contains(&knobs.error_rate) {
        return Err(bad("error_rate must be between 0 and 1"));
    }
    let rates = knobs.prefix_limits.values().map(|l| (l.rate, l.burst));
    // Written positively so NaN (which compares false) is refused too.
    let valid = knobs.limits_scale > 0.0 && rates.clone().all(|(r, b)| r > 0.0 && b >= 1.0);
    if !valid {
        return Err(bad(
            "limits_scale and rates must be above 0, bursts at least 1",
        ));
    }
    state.set_knobs(knobs.clone());
    Ok(HttpResponse::Ok().json(knobs))
}

async fn counters(state: web::Data<SimState>) -> Answer {
    Ok(HttpResponse::Ok().json(state.counters()))
}

/// 429s answered per rate-limit prefix (reset with the other counters).
async fn throttled(state: web::Data<SimState>) -> Answer {
    Ok(HttpResponse::Ok().json(state.throttled_counts()))
}

async fn reset_counters(state: web::Data<SimState>) -> Answer {
    state.reset_counters();
    Ok(HttpResponse::NoContent().finish())
}

async fn get_summary(state: web::Data<SimState>) -> Answer {
    let d = state.data.read().map_err(|_| poisoned())?;
    Ok(HttpResponse::Ok().json(summary(&d)))
}

#[derive(Deserialize)]
struct StateChange {
    state: String,
    health: Option<String>,
}

async fn set_state(
    state: web::Data<SimState>,
    path: web::Path<String>,
    body: web::Json<StateChange>,
) -> Answer {
    let mut d = state.data.write().map_err(|_| poisoned())?;
    let c = d
        .cluster_mut(&path)
        .ok_or_else(|| missing(format!("no cluster {}", path.as_str())))?;
    c.state = body.state.clone();
    if let Some(h) = &body.health {
        c.health = h.clone();
    }
    c.provisioning_since = None;
    c.meta.modified = Utc::now();
    Ok(HttpResponse::Ok().json(json!({ "uid": c.meta.uid, "state": c.state, "health": c.health })))
}

#[derive(Deserialize)]
struct ProfileMove {
    /// Version uid the cluster runs now.
    from: String,
    /// Version uid it moves to.
    to: String,
}

async fn move_profile(
    state: web::Data<SimState>,
    path: web::Path<String>,
    body: web::Json<ProfileMove>,
) -> Answer {
    let mut d = state.data.write().map_err(|_| poisoned())?;
    if d.version(&body.to).is_none() {
        return Err(missing(format!("no profile version {}", body.to)));
    }
    let c = d
        .cluster_mut(&path)
        .ok_or_else(|| missing(format!("no cluster {}", path.as_str())))?;
    let Some(slot) = c.profile_refs.iter_mut().find(|r| **r == body.from) else {
        return Err(bad(format!(
            "cluster does not run profile version {}",
            body.from
        )));
    };
    *slot = body.to.clone();
    c.meta.modified = Utc::now();
    let answer = json!({ "uid": c.meta.uid, "profiles": c.profile_refs });
    d.reindex();
    Ok(HttpResponse::Ok().json(answer))
}

async fn delete_cluster(state: web::Data<SimState>, path: web::Path<String>) -> Answer {
    let mut d = state.data.write().map_err(|_| poisoned())?;
    let before = d.clusters.len();
    d.clusters.retain(|c| c.meta.uid != *path);
    if d.clusters.len() == before {
        return Err(missing(format!("no cluster {}", path.as_str())));
    }
    d.reindex();
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, Default)]
struct NewVersion {
    version: Option<String>,
}

/// Publishes a new version of the profile that owns version `uid`; Palette then lists the
/// profile under the new version's uid.
async fn publish_version(
    state: web::Data<SimState>,
    path: web::Path<String>,
    body: Option<web::Json<NewVersion>>,
) -> Answer {
    let mut guard = state.data.write().map_err(|_| poisoned())?;
    let d = &mut *guard;
    let idx = d
        .profiles
        .iter()
        .position(|p| p.versions.iter().any(|v| v.uid == *path))
        .ok_or_else(|| missing(format!("no profile version {}", path.as_str())))?;
    let (profile_type, cloud, count, registry, addons) = {
        let p = &d.profiles[idx];
        let latest = p.latest();
        let registry = latest
            .packs
            .first()
            .map(|pk| pk.registry_uid.clone())
            .unwrap_or_default();
        (
            p.profile_type.clone(),
            p.cloud_type.clone(),
            p.versions.len(),
            registry,
            p.addons.clone(),
        )
    };
    let now = Utc::now();
    let version = body
        .and_then(|b| b.into_inner().version)
        .unwrap_or_else(|| format!("{}.{}.0", 1 + count / 3, count % 3));
    if d.profiles[idx]
        .versions
        .iter()
        .any(|v| v.version == version)
    {
        return Err(bad(format!("version {version} already exists")));
    }
    let packs = packs_for(&mut d.rng, &profile_type, &cloud, &addons, count, &registry);
    let variables = d.profiles[idx].latest().variables.clone();
    let uid = new_uid(&mut d.rng);
    d.profiles[idx].versions.push(ProfileVersion {
        uid: uid.clone(),
        version: version.clone(),
        packs,
        variables,
        created: now,
        modified: now,
    });
    d.reindex();
    Ok(HttpResponse::Created()
        .json(json!({ "uid": uid, "version": version, "name": d.profiles[idx].name })))
}
