//! The simulated Palette v1 endpoints: authentication (`ApiKey` or a bare session JWT in
//! `Authorization`), project scope (`ProjectUid` header or query), pagination with a base64
//! `continue` token read only from the query string, `{code, message, ref}` errors.

use std::cmp::Ordering;
use std::future::{Ready, ready};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use jsonwebtoken::{Algorithm, Validation};
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};

use super::data::{Cluster, Profile, Scope, SimData, SimUser};
use super::{SessionClaims, SimState, create, render};

/// A Palette error answer: `{code, message, ref}`.
#[derive(Debug)]
pub struct PaletteErr {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl PaletteErr {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ResourceNotFound", what)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }
}

impl std::fmt::Display for PaletteErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for PaletteErr {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let reference: u64 = rand::rng().random();
        HttpResponse::build(self.status).json(json!({
            "code": self.code,
            "message": self.message,
            "ref": format!("{reference:016x}"),
        }))
    }
}

type Answer = Result<HttpResponse, PaletteErr>;

fn ok(v: Value) -> Answer {
    Ok(HttpResponse::Ok().json(v))
}

/// Counters, added latency, throttling and injected errors, for every `/v1` request.
pub async fn palette_behaviour(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if !req.path().starts_with("/v1/") {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let Some(state) = req.app_data::<web::Data<SimState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let pattern = req
        .match_pattern()
        .unwrap_or_else(|| req.path().to_string());
    let key = format!("{} {}", req.method(), pattern);
    let knobs = state.knobs();
    if knobs.missing_endpoints.contains(&key) {
        state.count(key);
        let resp =
            PaletteErr::not_found(format!("no such endpoint: {}", req.path())).error_response();
        return Ok(req.into_response(resp));
    }
    if knobs.forbidden_endpoints.contains(&key) {
        state.count(key);
        let resp = PaletteErr::forbidden(format!("not allowed: {}", req.path())).error_response();
        return Ok(req.into_response(resp));
    }
    if let Some(bad) = knobs.bad_answers.get(&key).cloned() {
        state.count(key);
        return super::bad::answer(req, next, bad).await;
    }
    state.count(key);
    if knobs.watch.iter().any(|w| req.path().contains(w.as_str())) {
        state.count(format!("{} {}", req.method(), req.path()));
    }
    if knobs.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(knobs.latency_ms)).await;
    }
    let client = req.peer_addr().map(|a| a.ip());
    if state.refuses(&knobs, client, req.path()) {
        let mut resp = PaletteErr::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            format!("Too Many Requests, HTTP/1.1 {}", req.path()),
        )
        .error_response();
        if let Some(secs) = knobs.retry_after_seconds
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, v);
        }
        return Ok(req.into_response(resp));
    }
    if knobs.error_rate > 0.0 && rand::rng().random::<f64>() < knobs.error_rate {
        let resp = PaletteErr::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "simulated internal error",
        )
        .error_response();
        return Ok(req.into_response(resp));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

pub async fn no_route(req: HttpRequest) -> Answer {
    Err(PaletteErr::not_found(format!(
        "no such endpoint: {} {}",
        req.method(),
        req.path()
    )))
}

/// The authenticated caller and the scope of the request.
pub struct Ctx {
    pub state: web::Data<SimState>,
    pub user: SimUser,
    pub scope: Scope,
}

impl Ctx {
    /// Whether the caller may see an object in `scope` at all.
    pub fn may_see(&self, scope: &Scope) -> bool {
        self.user.admin
            || match scope {
                Scope::Tenant => !self.user.tenant_permissions.is_empty(),
                Scope::Project(p) => self.user.project_uids.contains(p),
            }
    }

    /// Whether a listing made in this request's scope includes an object in `scope`.
    /// `shared`: tenant objects also show up in project-scoped listings (profiles, accounts...).
    pub fn lists(&self, scope: &Scope, shared: bool) -> bool {
        match &self.scope {
            Scope::Project(p) => match scope {
                Scope::Project(q) => p == q,
                Scope::Tenant => shared,
            },
            Scope::Tenant => self.may_see(scope),
        }
    }

    pub fn check(&self, scope: &Scope, what: &str) -> Result<(), PaletteErr> {
        if self.may_see(scope) {
            Ok(())
        } else {
            Err(PaletteErr::forbidden(format!(
                "user {} has no access to this {what}",
                self.user.email
            )))
        }
    }
}

fn authenticate(req: &HttpRequest, state: &SimState) -> Result<SimUser, PaletteErr> {
    let data = state
        .data
        .read()
        .map_err(|_| PaletteErr::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "lock"))?;
    if let Some(key) = req.headers().get("apikey") {
        return if key.as_bytes() == state.api_key.as_bytes() {
            data.users
                .first()
                .cloned()
                .ok_or_else(|| PaletteErr::unauthorized("no users"))
        } else {
            Err(PaletteErr::unauthorized("invalid API key"))
        };
    }
    let Some(token) = req.headers().get("authorization") else {
        return Err(PaletteErr::unauthorized(
            "authentication required: send an ApiKey header or a session token in Authorization",
        ));
    };
    let token = token
        .to_str()
        .map_err(|_| PaletteErr::unauthorized("malformed Authorization header"))?;
    if token.starts_with("Bearer ") || token.starts_with("bearer ") {
        return Err(PaletteErr::unauthorized(
            "the Authorization header takes the bare session token, without `Bearer `",
        ));
    }
    let claims = verify_session(state, token)?;
    data.user_by_uid(&claims.sub)
        .cloned()
        .ok_or_else(|| PaletteErr::unauthorized("unknown user"))
}

pub fn verify_session(state: &SimState, token: &str) -> Result<SessionClaims, PaletteErr> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_aud = false;
    jsonwebtoken::decode::<SessionClaims>(token, &state.decoding_key, &validation)
        .map(|t| t.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                PaletteErr::unauthorized("session token expired")
            }
            _ => PaletteErr::unauthorized("invalid session token"),
        })
}

fn requested_project(req: &HttpRequest) -> Option<String> {
    if let Some(v) = req
        .headers()
        .get("projectuid")
        .and_then(|v| v.to_str().ok())
        && !v.is_empty()
    {
        return Some(v.to_string());
    }
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("projectuid"))
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

fn context(req: &HttpRequest) -> Result<Ctx, PaletteErr> {
    let state = req
        .app_data::<web::Data<SimState>>()
        .cloned()
        .ok_or_else(|| {
            PaletteErr::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "no state",
            )
        })?;
    let user = authenticate(req, &state)?;
    let scope = match requested_project(req) {
        None => Scope::Tenant,
        Some(p) => {
            let exists = state
                .data
                .read()
                .map(|d| d.project(&p).is_some())
                .unwrap_or(false);
            if !exists {
                return Err(PaletteErr::not_found(format!("project {p} not found")));
            }
            if !user.admin && !user.project_uids.contains(&p) {
                return Err(PaletteErr::forbidden(format!(
                    "user {} is not a member of project {p}",
                    user.email
                )));
            }
            Scope::Project(p)
        }
    };
    Ok(Ctx { state, user, scope })
}

impl FromRequest for Ctx {
    type Error = PaletteErr;
    type Future = Ready<Result<Ctx, PaletteErr>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(context(req))
    }
}

fn read(ctx: &Ctx) -> Result<std::sync::RwLockReadGuard<'_, SimData>, PaletteErr> {
    ctx.state
        .data
        .read()
        .map_err(|_| PaletteErr::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "lock"))
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    #[serde(rename = "continue")]
    pub cont: Option<String>,
}

#[derive(serde::Serialize, Deserialize)]
struct ContinueToken {
    offset: usize,
    count: usize,
    token: String,
}

/// A `continue` token: base64 JSON of the next offset, the count, and Palette's own token.
pub fn continue_token(offset: usize, count: usize, token: &str) -> String {
    let t = ContinueToken {
        offset,
        count,
        token: token.to_string(),
    };
    B64.encode(serde_json::to_vec(&t).unwrap_or_default())
}

/// The slice of a listing one request returns, and its `listmeta`. The continue token is only
/// ever read from the query string; a `continue` in a POST body is ignored (as Palette does).
pub fn page<'a, T>(
    items: &'a [T],
    q: &ListQuery,
    drift: i64,
) -> Result<(&'a [T], Value), PaletteErr> {
    let limit = match q.limit {
        Some(l) if l > 0 => (l as usize).min(50),
        _ => 50,
    };
    let start = match q.cont.as_deref().filter(|c| !c.is_empty()) {
        Some(token) => {
            let bytes = B64
                .decode(token)
                .map_err(|_| PaletteErr::bad_request("invalid continue token"))?;
            let t: ContinueToken = serde_json::from_slice(&bytes)
                .map_err(|_| PaletteErr::bad_request("invalid continue token"))?;
            t.offset
        }
        None => q.offset.unwrap_or(0).max(0) as usize,
    };
    let start = start.min(items.len());
    let end = (start + limit).min(items.len());
    let next = if end < items.len() {
        continue_token(end, items.len(), "")
    } else {
        String::new()
    };
    let count = (items.len() as i64 + drift).max(0);
    let meta = json!({ "continue": next, "count": count, "limit": limit, "offset": end });
    Ok((&items[start..end], meta))
}

fn body_json(body: &web::Bytes) -> Result<Value, PaletteErr> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| PaletteErr::bad_request(format!("invalid JSON body: {e}")))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/v1/health/ping",
        web::get().to(|| async { HttpResponse::Ok().json(json!({"msg": "ok"})) }),
    )
    .route("/v1/auth/authenticate", web::post().to(authenticate_login))
    .route("/v1/auth/refresh/{token}", web::get().to(refresh_token))
    .route("/v1/users/me", web::get().to(users_me))
    .route("/v1/users/info", web::get().to(users_info))
    .route("/v1/users/assets/sshkeys", web::get().to(ssh_keys))
    .route("/v1/dashboard/projects", web::post().to(projects_search))
    .route(
        "/v1/dashboard/projects/metadata",
        web::get().to(projects_metadata),
    )
    .route("/v1/projects/{uid}", web::get().to(project_get))
    .route(
        "/v1/dashboard/spectroclusters/meta",
        web::get().to(clusters_meta),
    )
    .route(
        "/v1/dashboard/spectroclusters/search",
        web::post().to(clusters_search),
    )
    .route(
        "/v1/dashboard/spectroclusters/{uid}",
        web::get().to(cluster_summary),
    )
    .route(
        "/v1/dashboard/spectroclusters/{uid}/overview",
        web::get().to(cluster_summary),
    )
    .route("/v1/spectroclusters/{uid}", web::get().to(cluster_get))
    .route(
        "/v1/spectroclusters/{uid}",
        web::delete().to(cluster_delete),
    )
    .route(
        "/v1/spectroclusters/{cloud}",
        web::post().to(create::create_cluster),
    )
    .route(
        "/v1/spectroclusters/{cloud}/validate",
        web::post().to(create::validate_cluster),
    )
    .route(
        "/v1/spectroclusters/{uid}/profiles",
        web::get().to(cluster_profiles),
    )
    .route(
        "/v1/spectroclusters/{uid}/pack/manifests/{manifest}",
        web::get().to(cluster_manifest),
    )
    .route(
        "/v1/spectroclusters/{uid}/assets/kubeconfig",
        web::get().to(kubeconfig),
    )
    .route(
        "/v1/spectroclusters/{uid}/assets/kubeconfigclient",
        web::get().to(kubeconfig_client),
    )
    .route(
        "/v1/spectroclusters/{uid}/assets/adminKubeconfig",
        web::get().to(kubeconfig_admin),
    )
    .route(
        "/v1/dashboard/clusterprofiles",
        web::post().to(profiles_search),
    )
    .route("/v1/clusterprofiles/{uid}", web::get().to(profile_get))
    .route(
        "/v1/clusterprofiles/{uid}/versions/{version}",
        web::get().to(profile_version_get),
    )
    .route(
        "/v1/clusterprofiles/{uid}/variables",
        web::get().to(profile_variables),
    )
    .route(
        "/v1/clusterprofiles/{uid}/packs",
        web::get().to(profile_packs),
    )
    .route(
        "/v1/cloudaccounts/vsphere/{uid}/properties/datacenters",
        web::get().to(vsphere_datacenters),
    )
    .route(
        "/v1/cloudaccounts/vsphere/{uid}/properties/computecluster/resources",
        web::get().to(vsphere_resources),
    )
    .route("/v1/cloudaccounts/{cloud}", web::get().to(cloud_accounts))
    .route(
        "/v1/cloudaccounts/{cloud}/{uid}",
        web::get().to(cloud_account),
    )
    .route("/v1/overlords", web::get().to(overlords))
    .route("/v1/overlords/vsphere/{uid}/pools", web::get().to(ip_pools))
    .route("/v1/overlords/{uid}", web::get().to(overlord))
    .route(
        "/v1/clustergroups/hostCluster",
        web::get().to(cluster_groups),
    )
    .route("/v1/clustergroups/{uid}", web::get().to(cluster_group));
}

// ---------------------------------------------------------------- auth and users

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Login {
    email_id: String,
    password: String,
}

/// The password every simulated user has.
pub const SIM_PASSWORD: &str = "sim-password";

async fn authenticate_login(state: web::Data<SimState>, body: web::Json<Login>) -> Answer {
    let user = state
        .data
        .read()
        .ok()
        .and_then(|d| d.user_by_email(&body.email_id).cloned());
    match user {
        Some(u) if body.password == SIM_PASSWORD => {
            let token = state.mint_token(&u.uid, &u.email, state.knobs().token_ttl_seconds as i64);
            ok(json!({ "Authorization": token, "isMfa": false }))
        }
        _ => Err(PaletteErr::unauthorized("invalid credentials")),
    }
}

async fn refresh_token(state: web::Data<SimState>, path: web::Path<String>) -> Answer {
    let claims = verify_session(&state, &path)?;
    let token = state.mint_token(
        &claims.sub,
        &claims.email,
        state.knobs().token_ttl_seconds as i64,
    );
    ok(json!({ "Authorization": token, "isMfa": false }))
}

async fn users_me(ctx: Ctx) -> Answer {
    ok(render::users_me(&ctx.user))
}

async fn users_info(ctx: Ctx) -> Answer {
    let d = read(&ctx)?;
    ok(json!({ "orgName": d.tenant_name, "tenantUid": d.tenant_uid, "userUid": ctx.user.uid }))
}

async fn ssh_keys(ctx: Ctx) -> Answer {
    let d = read(&ctx)?;
    let items: Vec<Value> = d
        .ssh_keys
        .iter()
        .filter(|k| ctx.lists(&k.meta.scope, true))
        .map(|k| render::ssh_key(&d, k))
        .collect();
    ok(json!({ "items": items }))
}

// ---------------------------------------------------------------- projects

fn string_condition(cond: &Value, value: &str) -> bool {
    let ignore = cond["ignoreCase"].as_bool().unwrap_or(false);
    let (v, norm) = if ignore {
        (value.to_lowercase(), true)
    } else {
        (value.to_string(), false)
    };
    let n = |s: &str| {
        if norm {
            s.to_lowercase()
        } else {
            s.to_string()
        }
    };
    if let Some(x) = cond["eq"].as_str() {
        return v == n(x);
    }
    if let Some(x) = cond["ne"].as_str() {
        return v != n(x);
    }
    if let Some(x) = cond["contains"].as_str() {
        return v.contains(&n(x));
    }
    if let Some(x) = cond["beginsWith"].as_str() {
        return v.starts_with(&n(x));
    }
    true
}

fn sort_spec(body: &Value) -> Option<(String, bool)> {
    let s = body["sort"].as_array()?.first()?;
    Some((
        s["field"].as_str()?.to_string(),
        s["order"].as_str().map(|o| o == "desc").unwrap_or(false),
    ))
}

async fn projects_search(ctx: Ctx, q: web::Query<ListQuery>, body: web::Bytes) -> Answer {
    let body = body_json(&body)?;
    let d = read(&ctx)?;
    let mut items: Vec<_> = d
        .projects
        .iter()
        .filter(|p| ctx.user.admin || ctx.user.project_uids.contains(&p.meta.uid))
        .filter(|p| match body["filter"].get("name") {
            Some(cond) => string_condition(cond, &p.meta.name),
            None => true,
        })
        .collect();
    match sort_spec(&body) {
        Some((field, desc)) => items.sort_by(|a, b| {
            let o = match field.as_str() {
                "creationTimestamp" => a.meta.created.cmp(&b.meta.created),
                "lastModifiedTimestamp" => a.meta.modified.cmp(&b.meta.modified),
                _ => a.meta.name.cmp(&b.meta.name),
            }
            .then_with(|| a.meta.uid.cmp(&b.meta.uid));
            if desc { o.reverse() } else { o }
        }),
        None => items.sort_by(|a, b| {
            a.meta
                .name
                .cmp(&b.meta.name)
                .then(a.meta.uid.cmp(&b.meta.uid))
        }),
    }
    let (slice, listmeta) = page(&items, &q, ctx.state.knobs().count_drift)?;
    let out: Vec<Value> = slice
        .iter()
        .map(|p| render::project_summary(&d, p))
        .collect();
    ok(json!({ "items": out, "listmeta": listmeta }))
}

async fn projects_metadata(ctx: Ctx) -> Answer {
    let d = read(&ctx)?;
    let items: Vec<Value> = d
        .projects
        .iter()
        .filter(|p| ctx.user.admin || ctx.user.project_uids.contains(&p.meta.uid))
        .map(|p| json!({ "metadata": { "name": p.meta.name, "uid": p.meta.uid } }))
        .collect();
    ok(json!({ "items": items }))
}

async fn project_get(ctx: Ctx, path: web::Path<String>) -> Answer {
    let d = read(&ctx)?;
    let p = d
        .project(&path)
        .ok_or_else(|| PaletteErr::not_found(format!("project {} not found", path.as_str())))?;
    ctx.check(&Scope::Project(p.meta.uid.clone()), "project")?;
    ok(render::project_detail(&d, p))
}

// ---------------------------------------------------------------- clusters

async fn clusters_meta(ctx: Ctx) -> Answer {
    let d = read(&ctx)?;
    let items: Vec<Value> = d
        .clusters
        .iter()
        .filter(|c| ctx.lists(&c.meta.scope, false))
        .map(|c| render::cluster_meta(&d, c))
        .collect();
    // A bare array, as the spec says (not {items}).
    ok(Value::Array(items))
}

fn cluster_property<'a>(c: &'a Cluster, property: &str) -> Result<ClusterProp<'a>, PaletteErr> {
    Ok(match property {
        "environment" | "cloudType" => ClusterProp::Str(&c.cloud_type),
        "clusterName" | "name" => ClusterProp::Str(&c.meta.name),
        "clusterState" | "state" => ClusterProp::Str(&c.state),
        "healthState" => ClusterProp::Str(&c.health),
        "isDeleted" => ClusterProp::Bool(c.deleting_since.is_some() || c.state == "Deleted"),
        "tags" => ClusterProp::List(&c.tags),
        other => {
            return Err(PaletteErr::bad_request(format!(
                "unknown search property `{other}`"
            )));
        }
    })
}

enum ClusterProp<'a> {
    Str(&'a str),
    Bool(bool),
    List(&'a [String]),
}

fn filter_matches(filter: &Value, c: &Cluster) -> Result<bool, PaletteErr> {
    let prop = cluster_property(c, filter["property"].as_str().unwrap_or(""))?;
    let cond = &filter["condition"];
    Ok(match prop {
        ClusterProp::Bool(b) => cond["bool"]["value"]
            .as_bool()
            .map(|v| v == b)
            .unwrap_or(true),
        ClusterProp::Str(_) | ClusterProp::List(_) => {
            let sc = &cond["string"];
            let values: Vec<&str> = sc["match"]["values"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            if values.is_empty() {
                return Ok(true);
            }
            let ignore = sc["ignoreCase"].as_bool().unwrap_or(false);
            let op = sc["operator"].as_str().unwrap_or("eq");
            let compare = |h: &str, w: &str| match op {
                "contains" => h.contains(w),
                "beginsWith" => h.starts_with(w),
                _ => h == w,
            };
            let test = |have: &str, want: &str| {
                if ignore {
                    compare(&have.to_lowercase(), &want.to_lowercase())
                } else {
                    compare(have, want)
                }
            };
            let any = sc["match"]["conjunction"].as_str() != Some("and");
            let check = |want: &str| match &prop {
                ClusterProp::Str(s) => test(s, want),
                ClusterProp::List(l) => l.iter().any(|x| test(x, want)),
                ClusterProp::Bool(_) => true,
            };
            let hit = if any {
                values.iter().any(|w| check(w))
            } else {
                values.iter().all(|w| check(w))
            };
            hit != sc["negation"].as_bool().unwrap_or(false)
        }
    })
}

fn search_matches(body: &Value, c: &Cluster) -> Result<bool, PaletteErr> {
    let filter = &body["filter"];
    let Some(groups) = filter["filterGroups"].as_array() else {
        return Ok(true);
    };
    let all = filter["conjunction"].as_str() != Some("or");
    let mut results = Vec::with_capacity(groups.len());
    for g in groups {
        let group_all = g["conjunction"].as_str() != Some("or");
        let mut hits = Vec::new();
        for f in g["filters"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            hits.push(filter_matches(f, c)?);
        }
        results.push(if hits.is_empty() {
            true
        } else if group_all {
            hits.iter().all(|h| *h)
        } else {
            hits.iter().any(|h| *h)
        });
    }
    Ok(if results.is_empty() {
        true
    } else if all {
        results.iter().all(|h| *h)
    } else {
        results.iter().any(|h| *h)
    })
}

fn cluster_order(field: &str, a: &Cluster, b: &Cluster) -> Ordering {
    match field {
        "lastModifiedTimestamp" => a.meta.modified.cmp(&b.meta.modified),
        "creationTimestamp" => a.meta.created.cmp(&b.meta.created),
        "clusterState" => a.state.cmp(&b.state),
        "environment" => a.cloud_type.cmp(&b.cloud_type),
        "healthState" => a.health.cmp(&b.health),
        _ => Ordering::Equal,
    }
}

async fn clusters_search(ctx: Ctx, q: web::Query<ListQuery>, body: web::Bytes) -> Answer {
    let body = body_json(&body)?;
    let d = read(&ctx)?;
    let (field, desc) = sort_spec(&body).unwrap_or_else(|| ("clusterName".into(), false));
    let mut items = Vec::new();
    for c in d
        .clusters_by_name()
        .filter(|c| ctx.lists(&c.meta.scope, false))
    {
        if search_matches(&body, c)? {
            items.push(c);
        }
    }
    if field != "clusterName" {
        items.sort_by(|a, b| cluster_order(&field, a, b).then_with(|| a.meta.uid.cmp(&b.meta.uid)));
    }
    if desc {
        items.reverse();
    }
    let (slice, listmeta) = page(&items, &q, ctx.state.knobs().count_drift)?;
    let with_packs = ctx.state.knobs().listing_packs;
    let out: Vec<Value> = slice
        .iter()
        .map(|c| {
            let mut v = render::cluster_summary(&d, c);
            if !with_packs {
                without_packs(&mut v);
            }
            v
        })
        .collect();
    ok(json!({ "items": out, "listmeta": listmeta }))
}

/// A listed cluster's templates without their `packs` (the `listing_packs` knob off).
fn without_packs(v: &mut Value) {
    if let Some(ts) = v["specSummary"]["clusterProfileTemplates"].as_array_mut() {
        for t in ts.iter_mut().filter_map(Value::as_object_mut) {
            t.remove("packs");
        }
    }
}

fn find_cluster<'a>(ctx: &Ctx, d: &'a SimData, uid: &str) -> Result<&'a Cluster, PaletteErr> {
    let c = d
        .cluster(uid)
        .ok_or_else(|| PaletteErr::not_found(format!("cluster {uid} not found")))?;
    ctx.check(&c.meta.scope, "cluster")?;
    Ok(c)
}

async fn cluster_summary(ctx: Ctx, path: web::Path<String>) -> Answer {
    let d = read(&ctx)?;
    let c = find_cluster(&ctx, &d, &path)?;
    ok(render::cluster_uid_summary(&d, c))
}

async fn cluster_get(ctx: Ctx, path: web::Path<String>) -> Answer {
    let d = read(&ctx)?;
    let c = find_cluster(&ctx, &d, &path)?;
    ok(render::cluster_full(&d, c))
}

async fn cluster_delete(ctx: Ctx, path: web::Path<String>) -> Answer {
    let mut d =
        ctx.state.data.write().map_err(|_| {
            PaletteErr::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "lock")
        })?;
    let scope = d
        .cluster(&path)
        .map(|c| c.meta.scope.clone())
        .ok_or_else(|| PaletteErr::not_found(format!("cluster {} not found", path.as_str())))?;
    ctx.check(&scope, "cluster")?;
    if let Some(c) = d.cluster_mut(&path) {
        c.state = "Deleting".into();
        c.deleting_since = Some(chrono::Utc::now());
        c.meta.modified = chrono::Utc::now();
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackMetaQuery {
    include_pack_meta: Option<String>,
}

fn wants_meta(q: &PackMetaQuery) -> bool {
    q.include_pack_meta
        .as_deref()
        .map(|m| m.contains("schema") || m.contains("presets"))
        .unwrap_or(false)
}

async fn cluster_profiles(
    ctx: Ctx,
    path: web::Path<String>,
    q: web::Query<PackMetaQuery>,
) -> Answer {
    let d = read(&ctx)?;
    let c = find_cluster(&ctx, &d, &path)?;
    ok(render::cluster_profiles(&d, c, wants_meta(&q)))
}

async fn cluster_manifest(ctx: Ctx, path: web::Path<(String, String)>) -> Answer {
    let (uid, manifest) = path.into_inner();
    let d = read(&ctx)?;
    let c = find_cluster(&ctx, &d, &uid)?;
    let found = c
        .profile_refs
        .iter()
        .filter_map(|r| d.version(r))
        .flat_map(|(_, v)| v.packs.iter())
        .flat_map(|p| p.manifests.iter())
        .find(|m| m.uid == manifest)
        .ok_or_else(|| {
            PaletteErr::not_found(format!("manifest {manifest} not found on cluster {uid}"))
        })?;
    ok(json!({
        "metadata": { "uid": found.uid, "name": found.name },
        "spec": { "published": { "content": found.content, "digest": format!("sha256:{}", found.uid) } }
    }))
}

#[derive(Deserialize)]
struct FrpQuery {
    frp: Option<String>,
}

fn kubeconfig_answer(ctx: &Ctx, uid: &str, frp: bool, flavour: &str) -> Answer {
    let d = read(ctx)?;
    let c = find_cluster(ctx, &d, uid)?;
    if c.state != "Running" {
        return Err(PaletteErr::not_found(format!(
            "kubeconfig of cluster {uid} is not available while it is {}",
            c.state
        )));
    }
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename={}.kubeconfig", c.meta.name),
        ))
        .body(render::kubeconfig(c, frp, flavour)))
}

async fn kubeconfig(ctx: Ctx, path: web::Path<String>, q: web::Query<FrpQuery>) -> Answer {
    let frp = q.frp.as_deref() != Some("false");
    kubeconfig_answer(&ctx, &path, frp, "frp")
}

async fn kubeconfig_client(ctx: Ctx, path: web::Path<String>) -> Answer {
    kubeconfig_answer(&ctx, &path, false, "client")
}

async fn kubeconfig_admin(ctx: Ctx, path: web::Path<String>) -> Answer {
    kubeconfig_answer(&ctx, &path, false, "admin")
}

// ---------------------------------------------------------------- cluster profiles

fn profile_matches(filter: &Value, p: &Profile) -> bool {
    if let Some(cond) = filter.get("profileName")
        && !string_condition(cond, &p.name)
    {
        return false;
    }
    if let Some(types) = filter["profileType"].as_array()
        && !types.is_empty()
        && !types
            .iter()
            .any(|t| t.as_str() == Some(p.profile_type.as_str()))
    {
        return false;
    }
    if let Some(envs) = filter["environment"].as_array()
        && !envs.is_empty()
        && !envs
            .iter()
            .any(|t| t.as_str() == Some(p.cloud_type.as_str()))
    {
        return false;
    }
    if let Some(scope) = filter["scope"].as_str()
        && scope != p.scope.name()
    {
        return false;
    }
    true
}

async fn profiles_search(ctx: Ctx, q: web::Query<ListQuery>, body: web::Bytes) -> Answer {
    let body = body_json(&body)?;
    let d = read(&ctx)?;
    let mut items: Vec<&Profile> = d
        .profiles
        .iter()
        .filter(|p| ctx.lists(&p.scope, true) && profile_matches(&body["filter"], p))
        .collect();
    let (field, desc) = sort_spec(&body).unwrap_or_else(|| ("profileName".into(), false));
    items.sort_by(|a, b| {
        let o = match field.as_str() {
            "lastModifiedTimestamp" => a.latest().modified.cmp(&b.latest().modified),
            "creationTimestamp" => a.versions[0].created.cmp(&b.versions[0].created),
            "profileType" => a.profile_type.cmp(&b.profile_type),
            "environment" => a.cloud_type.cmp(&b.cloud_type),
            _ => a.name.cmp(&b.name),
        }
        .then_with(|| a.latest().uid.cmp(&b.latest().uid));
        if desc { o.reverse() } else { o }
    });
    let (slice, listmeta) = page(&items, &q, ctx.state.knobs().count_drift)?;
    let out: Vec<Value> = slice
        .iter()
        .map(|p| render::profile_summary(&d, p, &d.clusters_on(&p.latest().uid)))
        .collect();
    ok(json!({ "items": out, "listmeta": listmeta }))
}

fn profile_answer(ctx: &Ctx, version_uid: &str, with_meta: bool) -> Answer {
    let d = read(ctx)?;
    let (p, v) = d
        .version(version_uid)
        .ok_or_else(|| PaletteErr::not_found(format!("cluster profile {version_uid} not found")))?;
    ctx.check(&p.scope, "cluster profile")?;
    ok(render::profile_detail(
        &d,
        p,
        v,
        &d.clusters_on(&v.uid),
        with_meta,
    ))
}

async fn profile_get(ctx: Ctx, path: web::Path<String>, q: web::Query<PackMetaQuery>) -> Answer {
    profile_answer(&ctx, &path, wants_meta(&q))
}

async fn profile_version_get(
    ctx: Ctx,
    path: web::Path<(String, String)>,
    q: web::Query<PackMetaQuery>,
) -> Answer {
    let (uid, version) = path.into_inner();
    {
        let d = read(&ctx)?;
        let (p, _) = d
            .version(&uid)
            .ok_or_else(|| PaletteErr::not_found(format!("cluster profile {uid} not found")))?;
        if !p.versions.iter().any(|v| v.uid == version) {
            return Err(PaletteErr::not_found(format!(
                "version {version} is not a version of cluster profile {uid}"
            )));
        }
    }
    profile_answer(&ctx, &version, wants_meta(&q))
}

async fn profile_variables(ctx: Ctx, path: web::Path<String>) -> Answer {
    let d = read(&ctx)?;
    let (p, v) = d.version(&path).ok_or_else(|| {
        PaletteErr::not_found(format!("cluster profile {} not found", path.as_str()))
    })?;
    ctx.check(&p.scope, "cluster profile")?;
    ok(render::profile_variables(v))
}

async fn profile_packs(ctx: Ctx, path: web::Path<String>, q: web::Query<PackMetaQuery>) -> Answer {
    let d = read(&ctx)?;
    let (p, v) = d.version(&path).ok_or_else(|| {
        PaletteErr::not_found(format!("cluster profile {} not found", path.as_str()))
    })?;
    ctx.check(&p.scope, "cluster profile")?;
    ok(render::profile_packs(v, wants_meta(&q)))
}

// ---------------------------------------------------------------- cloud accounts

const ACCOUNT_CLOUDS: [&str; 3] = ["aws", "azure", "vsphere"];

async fn cloud_accounts(ctx: Ctx, path: web::Path<String>, q: web::Query<ListQuery>) -> Answer {
    let cloud = path.into_inner();
    if !ACCOUNT_CLOUDS.contains(&cloud.as_str()) {
        return Err(PaletteErr::not_found(format!(
            "no cloud accounts of type {cloud}"
        )));
    }
    let d = read(&ctx)?;
    let mut items: Vec<_> = d
        .cloud_accounts
        .iter()
        .filter(|a| a.cloud_type == cloud && ctx.lists(&a.meta.scope, true))
        .collect();
    items.sort_by(|a, b| {
        a.meta
            .name
            .cmp(&b.meta.name)
            .then(a.meta.uid.cmp(&b.meta.uid))
    });
    let (slice, listmeta) = page(&items, &q, ctx.state.knobs().count_drift)?;
    let out: Vec<Value> = slice.iter().map(|a| render::cloud_account(&d, a)).collect();
    ok(json!({ "items": out, "listmeta": listmeta }))
}

fn find_account<'a>(
    ctx: &Ctx,
    d: &'a SimData,
    cloud: &str,
    uid: &str,
) -> Result<&'a super::data::CloudAccount, PaletteErr> {
    let a = d
        .cloud_accounts
        .iter()
        .find(|a| a.meta.uid == uid && a.cloud_type == cloud)
        .ok_or_else(|| PaletteErr::not_found(format!("{cloud} cloud account {uid} not found")))?;
    ctx.check(&a.meta.scope, "cloud account")?;
    Ok(a)
}

async fn cloud_account(ctx: Ctx, path: web::Path<(String, String)>) -> Answer {
    let (cloud, uid) = path.into_inner();
    let d = read(&ctx)?;
    let a = find_account(&ctx, &d, &cloud, &uid)?;
    ok(render::cloud_account(&d, a))
}

async fn vsphere_datacenters(ctx: Ctx, path: web::Path<String>) -> Answer {
    let d = read(&ctx)?;
    let a = find_account(&ctx, &d, "vsphere", &path)?;
    ok(render::vsphere_datacenters(a))
}

#[derive(Deserialize)]
struct ComputeQuery {
    datacenter: Option<String>,
    computecluster: Option<String>,
}

async fn vsphere_resources(
    ctx: Ctx,
    path: web::Path<String>,
    q: web::Query<ComputeQuery>,
) -> Answer {
    let (Some(dc), Some(cc)) = (q.datacenter.as_deref(), q.computecluster.as_deref()) else {
        return Err(PaletteErr::bad_request(
            "query parameters datacenter and computecluster are required",
        ));
    };
    let d = read(&ctx)?;
    find_account(&ctx, &d, "vsphere", &path)?;
    ok(render::vsphere_compute_resources(dc, cc))
}

// ---------------------------------------------------------------- overlords, cluster groups

async fn overlords(ctx: Ctx) -> Answer {
    let d = read(&ctx)?;
    let items: Vec<Value> = d
        .overlords
        .iter()
        .filter(|o| ctx.lists(&o.meta.scope, true))
        .map(|o| render::overlord(&d, o))
        .collect();
    ok(json!({ "items": items }))
}

fn find_overlord<'a>(
    ctx: &Ctx,
    d: &'a SimData,
    uid: &str,
) -> Result<&'a super::data::Overlord, PaletteErr> {
    let o = d
        .overlords
        .iter()
        .find(|o| o.meta.uid == uid)
        .ok_or_else(|| PaletteErr::not_found(format!("private cloud gateway {uid} not found")))?;
    ctx.check(&o.meta.scope, "private cloud gateway")?;
    Ok(o)
}

async fn overlord(ctx: Ctx, path: web::Path<String>) -> Answer {
    let d = read(&ctx)?;
    let o = find_overlord(&ctx, &d, &path)?;
    ok(render::overlord(&d, o))
}

async fn ip_pools(ctx: Ctx, path: web::Path<String>) -> Answer {
    let d = read(&ctx)?;
    let o = find_overlord(&ctx, &d, &path)?;
    ok(render::ip_pools(&d, o))
}

async fn cluster_groups(ctx: Ctx) -> Answer {
    let d = read(&ctx)?;
    let items: Vec<Value> = d
        .cluster_groups
        .iter()
        .filter(|g| ctx.lists(&g.meta.scope, true))
        .map(|g| render::cluster_group_summary(&d, g))
        .collect();
    ok(json!({ "summaries": items }))
}

async fn cluster_group(ctx: Ctx, path: web::Path<String>) -> Answer {
    let d = read(&ctx)?;
    let g = d
        .cluster_groups
        .iter()
        .find(|g| g.meta.uid == *path)
        .ok_or_else(|| {
            PaletteErr::not_found(format!("cluster group {} not found", path.as_str()))
        })?;
    ctx.check(&g.meta.scope, "cluster group")?;
    ok(render::cluster_group_detail(&d, g))
}
