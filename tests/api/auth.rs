//! Authentication, the permissions decided per caller, Backstage JWTs, Palette user
//! tokens and re-auth, the audit log, and no secret in any log line.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use spectrocloud_backend::api::routes::{Access, ROUTES, RouteSpec};
use spectrocloud_backend::config::{
    AuthMode, BackstageAuthConfig, Config, Grant, Secret, StaticToken,
};
use spectrocloud_backend::domain::Permission;

use crate::helpers::*;

const ADMIN: &str = "admin-bearer-token-5b0a9d1c";
const VIEWER: &str = "viewer-bearer-token-77e3c2aa";
const NOBODY: &str = "nobody-bearer-token-9f21d4e0";

fn static_auth(c: &mut Config, permissions: bool) {
    c.auth.mode = AuthMode::Static;
    c.auth.tokens = vec![
        StaticToken {
            token: Secret::new(ADMIN),
            subject: "user:default/ada".into(),
            groups: vec!["group:default/platform".into()],
            palette_user: None,
        },
        StaticToken {
            token: Secret::new(VIEWER),
            subject: "user:default/vic".into(),
            groups: vec!["group:default/viewers".into()],
            palette_user: None,
        },
        StaticToken {
            token: Secret::new(NOBODY),
            subject: "user:default/nob".into(),
            groups: vec![],
            palette_user: None,
        },
    ];
    c.permissions.enabled = permissions;
    c.permissions.grants = vec![
        Grant {
            principals: vec!["group:default/platform".into()],
            allow: vec!["spectrocloud.*".into()],
        },
        Grant {
            principals: vec!["group:default/viewers".into()],
            allow: vec![
                "spectrocloud.cluster.view-info".into(),
                "spectrocloud.profile.view-info".into(),
            ],
        },
    ];
}

const VIEWER_HAS: [Permission; 2] = [Permission::ClusterViewInfo, Permission::ProfileViewInfo];

/// Concrete uids of the synced mirror to fill route patterns with.
struct Sample {
    cluster: String,
    virtual_cluster: String,
    manifest: String,
    profile: String,
    project: String,
    account: String,
    vsphere: String,
    vsphere_version: String,
    overlord: String,
    group: String,
    created: AtomicUsize,
}

async fn sample(app: &TestApp) -> Sample {
    let get = |p: &'static str| async move { json(app.get(p).await).await };
    let clusters = get("/clusters").await;
    let running = |nested: bool| {
        clusters["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["status"]["state"] == "Running" && (c["spec"]["cloudType"] == "nested") == nested
            })
            .unwrap()["metadata"]["uid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // A running cluster whose packs have a manifest.
    let mut found = None;
    for c in clusters["clusters"].as_array().unwrap() {
        if c["status"]["state"] != "Running" || c["spec"]["cloudType"] == "nested" {
            continue;
        }
        let uid = c["metadata"]["uid"].as_str().unwrap().to_string();
        let profiles = json(app.get(&format!("/clusters/{uid}/profiles")).await).await;
        let manifest = profiles["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["spec"]["packs"].as_array().unwrap().iter())
            .flat_map(|p| p["spec"]["manifests"].as_array().unwrap().iter())
            .next()
            .map(|m| m["uid"].as_str().unwrap().to_string());
        if let Some(m) = manifest {
            let profile = profiles["profiles"][0]["metadata"]["uid"]
                .as_str()
                .unwrap()
                .to_string();
            found = Some((uid, m, profile));
            break;
        }
    }
    let (cluster, manifest, profile) = found.expect("a running cluster with a pack manifest");
    let first = |v: &Value, key: &str| v[key][0]["metadata"]["uid"].as_str().unwrap().to_string();
    Sample {
        virtual_cluster: running(true),
        manifest,
        profile,
        project: first(&get("/projects").await, "projects"),
        account: first(&get("/cloudaccounts/aws").await, "accounts"),
        vsphere: first(&get("/cloudaccounts/vsphere").await, "accounts"),
        vsphere_version: sqlx::query_scalar(q("SELECT uid FROM profile_versions WHERE env = 'env0' AND cloud_type = 'vsphere' LIMIT 1"))
        .fetch_one(&app.mirror().await)
        .await
        .unwrap(),
        overlord: first(&get("/overlords").await, "items"),
        group: first(&get("/clustergroups").await, "items"),
        cluster,
        created: AtomicUsize::new(0),
    }
}

/// A request that succeeds for an allowed caller: concrete path, and body for POSTs.
fn request_for(r: &RouteSpec, s: &Sample) -> (String, Option<Value>) {
    let path = r
        .path
        .replace(
            "{clusterUid}",
            if r.path.starts_with("/virtualclusters") {
                &s.virtual_cluster
            } else {
                &s.cluster
            },
        )
        .replace("{manifestUid}", &s.manifest)
        .replace("{profileUid}", &s.profile)
        .replace("{projectUid}", &s.project)
        .replace("{cloudType}/{accountUid}", &format!("aws/{}", s.account))
        .replace("{cloudType}", "aws")
        .replace("{accountUid}", &s.vsphere)
        .replace("{overlordUid}", &s.overlord)
        .replace("{clusterGroupUid}", &s.group);
    let n = s.created.fetch_add(1, Ordering::Relaxed);
    match (r.method, r.path) {
        ("POST", "/clusters") => (
            format!("{path}?projectUid={}", s.project),
            Some(
                json!({"metadata": {"name": format!("matrix-{n}")}, "spec": {"cloudType": "vsphere",
                "cloudConfig": {"placement": {"datacenter": "dc-1", "folder": "f"}, "sshKeys": ["ssh-ed25519 AAAA"]},
                "profiles": [{"uid": s.vsphere_version}],
                "machinepoolconfig": [{"cloudConfig": {"instanceType": {"numCPUs": 2, "memoryMiB": 4096, "diskGiB": 40},
                                                       "placements": [{"cluster": "c", "datastore": "d", "network": {"networkName": "VM Network"}}]},
                                       "poolConfig": {"name": "cp", "size": 1, "labels": ["control-plane"], "isControlPlane": true}}]}}),
            ),
        ),
        ("POST", "/virtualclusters") => (
            format!("{path}?projectUid={}", s.project),
            Some(
                json!({"clusterConfig": {"metadata": {"name": format!("matrix-v-{n}")}, "spec": {"cloudType": "nested",
                "clusterConfig": {"hostClusterConfig": {"clusterGroup": {"uid": s.group}}}, "cloudConfig": {}}}}),
            ),
        ),
        ("POST", "/profiles/search") => (path, Some(json!({"names": ["eks-infra"]}))),
        ("POST", "/sync") => ("/sync?instance=env0".into(), None),
        (_, "/cloudaccounts/vsphere/{accountUid}/computecluster/resources") => {
            (format!("{path}?datacenter=dc-1&computecluster=cc"), None)
        }
        _ => (path, None),
    }
}

async fn call(app: &TestApp, r: &RouteSpec, s: &Sample, token: Option<&str>) -> reqwest::Response {
    let (path, body) = request_for(r, s);
    let client = http_client();
    let mut req = client.request(
        Method::from_bytes(r.method.as_bytes()).unwrap(),
        app.url(&path),
    );
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

/// Waits until no sync runs (a triggered run calls Palette in the background).
async fn wait_idle(app: &TestApp) {
    for _ in 0..200 {
        let status = json(app.get("/sync/status").await).await;
        if status["environments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["running"].is_null())
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("sync did not finish");
}

async fn matrix(permissions: bool) {
    let (sim, app) = synced(SimConfig::default(), |c| static_auth(c, permissions)).await;
    let s = sample(&app).await;
    for r in ROUTES {
        for (who, token) in [("admin", ADMIN), ("viewer", VIEWER), ("nobody", NOBODY)] {
            let denied = match r.access {
                Access::Public | Access::Authenticated => false,
                Access::Permission(p) => {
                    permissions
                        && match who {
                            "admin" => false,
                            "viewer" => !VIEWER_HAS.contains(&p),
                            _ => true,
                        }
                }
            };
            wait_idle(&app).await;
            let calls_before: u64 = sim_counters(&sim).await.values().sum();
            let resp = call(&app, r, &s, Some(token)).await;
            let status = resp.status();
            if denied {
                let body = json(resp).await;
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{who} {} {}",
                    r.method,
                    r.path
                );
                assert_eq!(body["code"], "permission_denied");
                if let Access::Permission(p) = r.access {
                    assert_eq!(body["permission"], p.id());
                }
                let calls_after: u64 = sim_counters(&sim).await.values().sum();
                assert_eq!(
                    calls_before, calls_after,
                    "a denied {} {} reached Palette",
                    r.method, r.path
                );
            } else {
                let text = resp.text().await.unwrap();
                assert!(
                    status.is_success(),
                    "{who} {} {} (permissions {permissions}): {status} {text}",
                    r.method,
                    r.path
                );
            }
        }
        // No token: 401, except the public route.
        let resp = call(&app, r, &s, None).await;
        if r.access == Access::Public {
            assert_eq!(resp.status(), 200);
        } else {
            assert_eq!(resp.status(), 401, "{} {}", r.method, r.path);
            assert_eq!(resp.headers()["www-authenticate"], "Bearer");
            assert_eq!(json(resp).await["code"], "unauthenticated");
        }
    }
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn permission_matrix_with_permissions_on() {
    matrix(true).await;
}

#[tokio::test]
async fn permission_matrix_with_permissions_off() {
    matrix(false).await;
}

#[tokio::test]
async fn bad_credentials_are_401_and_health_is_open() {
    let app = spawn_app_with(|c| static_auth(c, true)).await;
    let client = http_client();
    for header in [
        None,
        Some("Bearer wrong-token"),
        Some(format!("Basic {ADMIN}").as_str()),
        Some("Bearer "),
        Some(ADMIN),
    ] {
        let mut req = client.get(app.url("/openapi.json"));
        if let Some(h) = header {
            req = req.header("Authorization", h);
        }
        assert_error(req.send().await.unwrap(), 401, "unauthenticated").await;
    }
    // The answer says which of missing, malformed or not accepted, never more.
    for (header, says) in [
        (None, "send an Authorization: Bearer"),
        (Some("Bearer wrong-token".to_string()), "not accepted"),
        (
            Some(format!("Basic {ADMIN}")),
            "not of the form `Bearer <token>`",
        ),
        (Some(ADMIN.to_string()), "not of the form `Bearer <token>`"),
    ] {
        let mut req = client.get(app.url("/openapi.json"));
        if let Some(h) = &header {
            req = req.header("Authorization", h.as_str());
        }
        let body = json(req.send().await.unwrap()).await;
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{header:?}: {body}");
        assert!(
            !message.contains(ADMIN) && !message.contains("wrong-token"),
            "{body}"
        );
    }
    let resp = client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    // Unknown routes need authentication too.
    assert_error(
        client.get(app.url("/nowhere")).send().await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;
    assert_error(
        client
            .get(app.url("/nowhere"))
            .bearer_auth(VIEWER)
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn auth_debug_shows_the_caller_never_a_token() {
    let app = spawn_app_with(|c| static_auth(c, true)).await;
    let palette_token =
        "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2lnbmF0dXJlLW5vdC1jaGVja2Vk";
    remember_secret(palette_token);
    let resp = reqwest::Client::new()
        .get(app.url("/auth/debug"))
        .bearer_auth(VIEWER)
        .header("X-SpectroCloud-Token", palette_token)
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert!(
        !text.contains(palette_token) && !text.contains(VIEWER),
        "{text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["hasOidcToken"], true);
    assert!(
        v["tokenLength"].is_null(),
        "length hidden unless server.debug_tokens"
    );
    assert_eq!(v["caller"]["subject"], "user:default/vic");
    assert_eq!(v["caller"]["groups"], json!(["group:default/viewers"]));
    assert_eq!(
        v["caller"]["permissions"],
        json!([
            "spectrocloud.cluster.view-info",
            "spectrocloud.profile.view-info"
        ])
    );
    let headers: Vec<&str> = v["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert!(headers.contains(&"x-spectrocloud-token") && headers.contains(&"authorization"));
    app.stop().await;

    let app = spawn_app_with(|c| {
        static_auth(c, true);
        c.server.debug_tokens = true;
    })
    .await;
    let v = json(
        reqwest::Client::new()
            .get(app.url("/auth/debug"))
            .bearer_auth(ADMIN)
            .header("X-SpectroCloud-Token", palette_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["tokenLength"], palette_token.len());
    assert_eq!(v["tokenPrefix"], "eyJhbGci...");
    app.stop().await;
}

// ---------------------------------------------------------------- Backstage JWTs

pub(crate) struct Jwks {
    pub url: String,
    pub keys: Arc<Mutex<Value>>,
    pub fetches: Arc<AtomicUsize>,
    /// How long each answer takes (a slow Backstage), in milliseconds.
    pub delay_ms: Arc<AtomicUsize>,
    pub handle: actix_web::dev::ServerHandle,
}

pub(crate) async fn jwks_server(initial: Value) -> Jwks {
    let keys = Arc::new(Mutex::new(initial));
    let fetches = Arc::new(AtomicUsize::new(0));
    let delay_ms = Arc::new(AtomicUsize::new(0));
    let (k, f, d) = (keys.clone(), fetches.clone(), delay_ms.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let (k, f, d) = (k.clone(), f.clone(), d.clone());
        App::new().route(
            "/api/auth/.well-known/jwks.json",
            web::get().to(move || {
                let (k, f, d) = (k.clone(), f.clone(), d.clone());
                async move {
                    f.fetch_add(1, Ordering::Relaxed);
                    let wait = d.load(Ordering::Relaxed) as u64;
                    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                    let body = k.lock().unwrap().clone();
                    HttpResponse::Ok().json(body)
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Jwks {
        url: format!("http://127.0.0.1:{port}/api/auth/.well-known/jwks.json"),
        keys,
        fetches,
        delay_ms,
        handle,
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) struct SigningKey {
    pub kid: String,
    pub alg: jsonwebtoken::Algorithm,
    pub key: jsonwebtoken::EncodingKey,
    pub jwk: Value,
}

pub(crate) fn es256_key(kid: &str) -> SigningKey {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let pkcs8 = pair.to_pkcs8v1().unwrap();
    let point = pair.public_key().as_ref().to_vec(); // 0x04 || x || y
    SigningKey {
        kid: kid.into(),
        alg: jsonwebtoken::Algorithm::ES256,
        key: jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()),
        jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
                    "x": b64(&point[1..33]), "y": b64(&point[33..65])}),
    }
}

fn rs256_key(kid: &str) -> SigningKey {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::KeyPair as _;
    let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    let public = pair.public_key();
    SigningKey {
        kid: kid.into(),
        alg: jsonwebtoken::Algorithm::RS256,
        key: jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        jwk: json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero())}),
    }
}

pub(crate) const ISSUER: &str = "http://backstage.test/api/auth";

pub(crate) fn backstage_token(
    k: &SigningKey,
    sub: &str,
    ent: &[&str],
    exp_in: i64,
    iss: &str,
) -> String {
    let mut header = jsonwebtoken::Header::new(k.alg);
    header.kid = Some(k.kid.clone());
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": sub, "ent": ent, "iss": iss, "aud": "backstage", "iat": now, "exp": now + exp_in});
    let t = jsonwebtoken::encode(&header, &claims, &k.key).unwrap();
    remember_secret(&t);
    t
}

#[tokio::test]
async fn backstage_jwts_are_verified_against_the_jwks() {
    let a = es256_key("key-a");
    let r = rs256_key("key-r");
    let jwks = jwks_server(json!({"keys": [a.jwk, r.jwk]})).await;
    let url = jwks.url.clone();
    let app = spawn_app_with(move |c| {
        static_auth(c, true);
        c.auth.mode = AuthMode::Backstage;
        c.auth.backstage = Some(BackstageAuthConfig {
            jwks_url: url,
            issuer: Some(ISSUER.into()),
            audience: None,
        });
    })
    .await;
    let client = http_client();
    let who = |token: String| {
        let client = client.clone();
        let url = app.url("/auth/debug");
        async move { client.get(url).bearer_auth(token).send().await.unwrap() }
    };
    // ES256 and RS256; subject from sub, groups from ent; grants apply per caller.
    let resp = who(backstage_token(
        &a,
        "user:default/ada",
        &["user:default/ada", "group:default/platform"],
        300,
        ISSUER,
    ))
    .await;
    assert_eq!(resp.status(), 200);
    let v = json(resp).await;
    assert_eq!(v["caller"]["subject"], "user:default/ada");
    assert_eq!(v["caller"]["groups"], json!(["group:default/platform"]));
    assert_eq!(v["caller"]["method"], "backstage");
    assert_eq!(v["caller"]["permissions"].as_array().unwrap().len(), 8);
    let resp = who(backstage_token(
        &r,
        "user:default/vic",
        &["group:default/viewers"],
        300,
        ISSUER,
    ))
    .await;
    assert_eq!(
        json(resp).await["caller"]["permissions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let denied = client
        .get(app.url("/audit"))
        .bearer_auth(backstage_token(
            &r,
            "user:default/vic",
            &["group:default/viewers"],
            300,
            ISSUER,
        ))
        .send()
        .await
        .unwrap();
    assert_error(denied, 403, "permission_denied").await;
    // Expired, wrong issuer, signed by a key the JWKS does not have.
    assert_error(
        who(backstage_token(&a, "user:default/ada", &[], -120, ISSUER)).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_error(
        who(backstage_token(
            &a,
            "user:default/ada",
            &[],
            300,
            "http://evil.test",
        ))
        .await,
        401,
        "unauthenticated",
    )
    .await;
    // No `iss` at all is refused too.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(a.kid.clone());
    let exp = chrono::Utc::now().timestamp() + 300;
    let no_iss = jsonwebtoken::encode(
        &header,
        &json!({"sub": "user:default/ada", "ent": [], "exp": exp}),
        &a.key,
    )
    .unwrap();
    remember_secret(&no_iss);
    assert_error(who(no_iss).await, 401, "unauthenticated").await;
    let stranger = es256_key("key-a"); // same kid, different key: bad signature
    assert_error(
        who(backstage_token(
            &stranger,
            "user:default/ada",
            &[],
            300,
            ISSUER,
        ))
        .await,
        401,
        "unauthenticated",
    )
    .await;
    // Static tokens still work beside it.
    assert_eq!(who(VIEWER.into()).await.status(), 200);
    assert_eq!(jwks.fetches.load(Ordering::Relaxed), 1, "keys are cached");

    // Key rotation: a token with an unknown kid makes the service read the JWKS again.
    let b = es256_key("key-b");
    *jwks.keys.lock().unwrap() = json!({"keys": [b.jwk]});
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let resp = who(backstage_token(
        &b,
        "user:default/ada",
        &["group:default/platform"],
        300,
        ISSUER,
    ))
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(jwks.fetches.load(Ordering::Relaxed), 2);
    // The rotated-out key no longer verifies.
    assert_error(
        who(backstage_token(&a, "user:default/ada", &[], 300, ISSUER)).await,
        401,
        "unauthenticated",
    )
    .await;
    app.stop().await;
    jwks.handle.stop(false).await;
}

// ---------------------------------------------------------------- Palette user tokens

async fn debug_as(app: &TestApp, headers: &[(&str, &str)]) -> (bool, Value) {
    let mut req = app.client.get(app.url("/auth/debug"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let reauth = resp
        .headers()
        .get("x-spectrocloud-reauth-required")
        .map(|v| v == "true")
        .unwrap_or(false);
    (reauth, json(resp).await)
}

/// A JWT Palette would never accept (signed with another secret), with a future `exp`.
pub(crate) fn foreign_token(exp_in: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let t = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "x", "exp": now + exp_in}),
        &jsonwebtoken::EncodingKey::from_secret(b"not-palettes-secret").unwrap(),
    )
    .unwrap();
    remember_secret(&t);
    t
}

#[tokio::test]
async fn palette_user_tokens_follow_the_original_rules() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let alice = sim_token(&sim, "alice@acme.example").await;

    // Neither header: the environment key, no re-auth.
    let (reauth, v) = debug_as(&app, &[]).await;
    assert!(!reauth && v["paletteUser"]["hasToken"] == false);
    // Email of an unknown user, no token: re-auth asked, the key is used.
    let (reauth, v) = debug_as(&app, &[("X-SpectroCloud-User-Email", "alice@acme.example")]).await;
    assert!(reauth && v["paletteUser"]["hasToken"] == false);
    // The header is on error answers too.
    let resp = app
        .client
        .get(app.url("/clusters/ffffffffffffffffffffffff"))
        .header("X-SpectroCloud-User-Email", "alice@acme.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-spectrocloud-reauth-required"], "true");
    assert_eq!(resp.status(), 404);
    // Token alone: used directly, no re-auth.
    let (reauth, v) = debug_as(&app, &[("X-SpectroCloud-Token", &alice)]).await;
    assert!(!reauth && v["paletteUser"]["tokenSource"] == "header");
    // Email + token: used and cached under the email...
    let (reauth, _) = debug_as(
        &app,
        &[
            ("X-SpectroCloud-User-Email", "Alice@ACME.example"),
            ("X-SpectroCloud-Token", &alice),
        ],
    )
    .await;
    assert!(!reauth);
    // ...but `none` is one shared subject: the email alone borrows nothing (issue 11).
    let (reauth, v) = debug_as(&app, &[("X-SpectroCloud-User-Email", "alice@acme.example")]).await;
    assert!(
        reauth && v["paletteUser"]["hasToken"] == false,
        "borrowed by email"
    );
    // The carried token scopes: alice sees only her project's clusters.
    let resp = app
        .client
        .get(app.url("/clusters"))
        .header("X-SpectroCloud-Token", &alice)
        .send()
        .await
        .unwrap();
    let mine = json(resp).await["clusters"].as_array().unwrap().len();
    let all = json(app.get("/clusters").await).await["clusters"]
        .as_array()
        .unwrap()
        .len();
    assert!(mine > 0 && mine < all, "{mine} of {all}");

    // A token Palette refuses (here a made-up RS256 id token) is used for its request only,
    // and asks for re-auth.
    let id_token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkYXZlIn0.c2ln";
    remember_secret(id_token);
    let (reauth, v) = debug_as(
        &app,
        &[
            ("X-SpectroCloud-User-Email", "dave@acme.example"),
            ("X-SpectroCloud-Token", id_token),
        ],
    )
    .await;
    assert!(reauth && v["paletteUser"]["tokenSource"] == "header");
    let (reauth, _) = debug_as(&app, &[("X-SpectroCloud-User-Email", "dave@acme.example")]).await;
    assert!(reauth, "a non-session token was cached");

    // An expired token is never cached.
    let expired = sim_control(
        &sim,
        Method::POST,
        "/tokens",
        Some(json!({"email": "bob@acme.example", "ttl_seconds": -10})),
    )
    .await;
    let expired = expired["token"].as_str().unwrap().to_string();
    remember_secret(&expired);
    debug_as(
        &app,
        &[
            ("X-SpectroCloud-User-Email", "bob@acme.example"),
            ("X-SpectroCloud-Token", &expired),
        ],
    )
    .await;
    let (reauth, _) = debug_as(&app, &[("X-SpectroCloud-User-Email", "bob@acme.example")]).await;
    assert!(reauth);
    // A token Palette rejects: evicted, re-auth asked, the request falls back to the key.
    let forged = foreign_token(600);
    let resp = app
        .client
        .get(app.url("/clusters"))
        .header("X-SpectroCloud-User-Email", "carol@acme.example")
        .header("X-SpectroCloud-Token", &forged)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-spectrocloud-reauth-required"], "true");
    assert_eq!(json(resp).await["clusters"].as_array().unwrap().len(), all);
    let (reauth, v) = debug_as(&app, &[("X-SpectroCloud-User-Email", "carol@acme.example")]).await;
    assert!(reauth && v["paletteUser"]["hasToken"] == false, "evicted");
    // On a live route, the rejection is a 403 with the re-auth header.
    let cluster = json(app.get("/clusters").await).await["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"]["state"] == "Running")
        .unwrap()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = app
        .client
        .get(app.url(&format!("/clusters/{cluster}/kubeconfig")))
        .header("X-SpectroCloud-Token", &forged)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-spectrocloud-reauth-required"], "true");
    let msg = assert_error(resp, 403, "palette_denied").await;
    assert!(!msg.contains(&forged), "{msg}");
    app.stop().await;
    sim.stop().await;
}

// ---------------------------------------------------------------- audit

#[tokio::test]
async fn a_verified_header_token_replaces_the_cached_one_a_planted_one_never() {
    // Visibility re-read on every request, so it follows the token in use. The caller is
    // personal: its static token belongs to alice.
    let (sim, app) = synced(SimConfig::default(), |c| {
        static_auth(c, false);
        c.auth.tokens[0].palette_user = Some("alice@acme.example".into());
        c.auth.user_scope_ttl_seconds = 0;
    })
    .await;
    let mint = |email: &'static str, ttl: i64| {
        let sim = &sim;
        async move {
            let v = sim_control(
                sim,
                Method::POST,
                "/tokens",
                Some(json!({"email": email, "ttl_seconds": ttl})),
            )
            .await;
            let t = v["token"].as_str().unwrap().to_string();
            remember_secret(&t);
            t
        }
    };
    // Two logins of alice, and bob's token sent under alice's email.
    let first = mint("alice@acme.example", 600).await;
    let later = mint("bob@acme.example", 1200).await;
    let older = mint("alice@acme.example", 300).await;
    let projects_with = |token: Option<&str>| {
        let mut req = app
            .client
            .get(app.url("/users/me/projects"))
            .header("X-SpectroCloud-User-Email", "alice@acme.example");
        if let Some(t) = token {
            req = req.header("X-SpectroCloud-Token", t);
        }
        async move {
            let v = json(req.send().await.unwrap()).await;
            let mut names: Vec<String> = v["projects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["uid"].as_str().unwrap().to_string())
                .collect();
            names.sort();
            names
        }
    };
    let alice_projects = projects_with(Some(&first)).await;
    let bob_projects = {
        let mut p: Vec<String> = sim_user(&sim, "bob@acme.example").await["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect();
        p.sort();
        p
    };
    assert_ne!(alice_projects, bob_projects);
    assert_eq!(projects_with(None).await, alice_projects, "cached");
    // Bob's token serves its own request as bob, and is never cached as alice.
    assert_eq!(projects_with(Some(&later)).await, bob_projects);
    assert_eq!(projects_with(None).await, alice_projects, "not planted");
    // Another token Palette verifies as alice replaces the cached one.
    assert_eq!(projects_with(Some(&older)).await, alice_projects);
    let (_, v) = debug_as(&app, &[("X-SpectroCloud-User-Email", "alice@acme.example")]).await;
    assert_eq!(v["paletteUser"]["tokenSource"], "cache");
    assert_eq!(v["paletteUser"]["email"], "alice@acme.example");
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn audit_log_records_who_did_what() {
    let (sim, app) = synced(SimConfig::default(), |c| static_auth(c, true)).await;
    let s = sample(&app).await;
    let alice = sim_token(&sim, "admin@acme.example").await;
    let resp = app
        .client
        .get(app.url(&format!("/clusters/{}/kubeconfig", s.cluster)))
        .header("X-SpectroCloud-User-Email", "admin@acme.example")
        .header("X-SpectroCloud-Token", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app
        .get(&format!(
            "/clusters/{}/pack/manifests/ffffffffffffffffffffffff",
            s.cluster
        ))
        .await;
    assert_eq!(resp.status(), 404);
    let create = ROUTES
        .iter()
        .find(|r| r.method == "POST" && r.path == "/clusters")
        .unwrap();
    assert_eq!(call(&app, create, &s, Some(ADMIN)).await.status(), 201);
    // Refused before reaching Palette: still an attempt on record.
    let refused = app
        .client
        .post(app.url("/clusters"))
        .json(&json!({"metadata": {"name": "x"}, "spec": {"cloudType": "gcp"}}))
        .send()
        .await
        .unwrap();
    assert_error(refused, 400, "bad_request").await;
    app.sync("env0").await;

    let log = json(app.get("/audit").await).await;
    let entries = log["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "sync.trigger",
            "cluster.create",
            "cluster.create",
            "manifest.view",
            "kubeconfig.download",
            "sync.trigger"
        ],
        "newest first"
    );
    assert_eq!(entries[1]["outcome"], "failure");
    assert!(
        entries[1]["detail"]
            .as_str()
            .unwrap()
            .contains("Unsupported cloud type: gcp"),
        "{}",
        entries[1]
    );
    assert_eq!(entries[2]["outcome"], "success");
    let kube = &entries[4];
    assert_eq!(kube["subject"], "user:default/ada");
    assert_eq!(kube["palette_email"], "admin@acme.example");
    assert_eq!(kube["environment"], "env0");
    assert_eq!(kube["object_uid"], s.cluster.as_str());
    assert_eq!(kube["outcome"], "success");
    assert_eq!(entries[3]["outcome"], "failure");
    assert_eq!(log["total"], 6);
    let page = json(app.get("/audit?limit=2&offset=1").await).await;
    let page_actions: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(page_actions, vec!["cluster.create", "cluster.create"]);
    let denied = reqwest::Client::new()
        .get(app.url("/audit"))
        .bearer_auth(VIEWER)
        .send()
        .await
        .unwrap();
    assert_error(denied, 403, "permission_denied").await;
    app.stop().await;
    sim.stop().await;
}

// ---------------------------------------------------------------- secrets in logs

#[tokio::test]
async fn no_secret_is_ever_logged() {
    // Exercise every path that handles a secret: static and rejected bearer tokens, Palette
    // user tokens (cached, rejected, expired), the environment key on sync and live calls.
    let (sim, app) = synced(SimConfig::default(), |c| static_auth(c, true)).await;
    let s = sample(&app).await;
    let bob = sim_token(&sim, "bob@acme.example").await;
    let forged = foreign_token(600);
    for (token, email) in [
        (bob.as_str(), "bob@acme.example"),
        (forged.as_str(), "eve@acme.example"),
    ] {
        for path in [
            "/clusters",
            "/auth/debug",
            &format!("/clusters/{}/kubeconfig", s.cluster),
        ] {
            let _ = app
                .client
                .get(app.url(path))
                .header("X-SpectroCloud-Token", token)
                .header("X-SpectroCloud-User-Email", email)
                .send()
                .await;
        }
    }
    remember_secret("not-a-configured-token-3141");
    let _ = reqwest::Client::new()
        .get(app.url("/clusters"))
        .bearer_auth("not-a-configured-token-3141")
        .send()
        .await;
    set_knobs(&sim, json!({"outage": true})).await;
    let _ = app.client.post(app.url("/sync?instance=env0")).send().await;
    let _ = app
        .get(&format!("/clusters/{}/kubeconfig", s.cluster))
        .await;
    app.stop().await;
    sim.stop().await;

    let logs = captured_logs();
    assert!(
        logs.len() > 10_000,
        "logs were captured ({} bytes)",
        logs.len()
    );
    let secrets = SECRETS.lock().unwrap().clone();
    assert!(secrets.len() >= 7, "{} secrets registered", secrets.len());
    for secret in secrets {
        assert!(
            !logs.contains(&secret),
            "a secret appears in the logs: {}…",
            &secret[..secret.len().min(6)]
        );
    }
    assert_no_secret_logged();
}

#[tokio::test]
async fn cached_palette_tokens_belong_to_one_caller_and_one_environment() {
    let a = spawn_sim().await;
    let b = spawn_sim_with(SimConfig {
        seed: 3,
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&a, &b], |c| {
        static_auth(c, true);
        // The admin's token is alice's own (a personal caller): only then is a token cached.
        c.auth.tokens[0].palette_user = Some("alice@acme.example".into());
        c.environments[1].user_tokens = false;
    })
    .await;
    let alice = sim_token(&a, "alice@acme.example").await;
    let client = http_client();
    assert_eq!(
        app.config.auth.tokens[0].palette_user.as_deref(),
        Some("alice@acme.example")
    );
    let debug =
        |bearer: &'static str, headers: Vec<(&'static str, String)>, instance: &'static str| {
            let client = client.clone();
            let url = app.url(&format!("/auth/debug?instance={instance}"));
            async move {
                let mut req = client.get(url).bearer_auth(bearer);
                for (k, v) in headers {
                    req = req.header(k, v);
                }
                let resp = req.send().await.unwrap();
                let reauth = resp
                    .headers()
                    .get("x-spectrocloud-reauth-required")
                    .is_some();
                (reauth, json(resp).await)
            }
        };
    // The admin's request stores alice's token under the admin...
    let (reauth, _) = debug(
        ADMIN,
        vec![
            ("X-SpectroCloud-User-Email", "alice@acme.example".into()),
            ("X-SpectroCloud-Token", alice.clone()),
        ],
        "env0",
    )
    .await;
    assert!(!reauth);
    let (reauth, v) = debug(
        ADMIN,
        vec![("X-SpectroCloud-User-Email", "alice@acme.example".into())],
        "env0",
    )
    .await;
    assert!(!reauth && v["paletteUser"]["tokenSource"] == "cache");
    // ...so another caller naming the same email does not get it.
    let (reauth, v) = debug(
        VIEWER,
        vec![("X-SpectroCloud-User-Email", "alice@acme.example".into())],
        "env0",
    )
    .await;
    assert!(reauth && v["paletteUser"]["hasToken"] == false);
    // Nor does another environment.
    let (_, v) = debug(
        ADMIN,
        vec![("X-SpectroCloud-User-Email", "alice@acme.example".into())],
        "env1",
    )
    .await;
    assert_eq!(v["paletteUser"]["hasToken"], false);
    // env1 takes no user tokens at all: the key is used and no re-auth is asked.
    let (reauth, v) = debug(
        ADMIN,
        vec![
            ("X-SpectroCloud-User-Email", "alice@acme.example".into()),
            ("X-SpectroCloud-Token", alice.clone()),
        ],
        "env1",
    )
    .await;
    assert!(!reauth && v["paletteUser"]["hasToken"] == false);
    app.stop().await;
    a.stop().await;
    b.stop().await;
}
