//! Issue 11 as an attacker tries it: borrowing, planting and pinning Palette user tokens,
//! forged-token floods against the caches, a JWKS burst of forged `kid`s, `nbf`/`aud`,
//! `require_user_token`, and what the audit log records. Every server stop checks the logs
//! for the secrets used here.

use std::sync::atomic::Ordering;

use futures::StreamExt;
use serde_json::{Value, json};
use spectrocloud_backend::config::{AuthMode, BackstageAuthConfig, Config, Secret, StaticToken};

use crate::auth::{ISSUER, backstage_token, es256_key, foreign_token, jwks_server};
use crate::helpers::*;

const PROXY: &str = "shared-proxy-token-1f0c93ab77";
const ALICE: &str = "alice-personal-token-6d2e81c0aa";

/// A shared proxy token (many people behind it) and alice's personal token.
fn two_callers(c: &mut Config) {
    c.auth.mode = AuthMode::Static;
    c.auth.tokens = vec![
        StaticToken {
            token: Secret::new(PROXY),
            subject: "service:backstage-proxy".into(),
            groups: vec![],
            palette_user: None,
        },
        StaticToken {
            token: Secret::new(ALICE),
            subject: "user:default/alice".into(),
            groups: vec![],
            palette_user: Some("alice@acme.example".into()),
        },
    ];
    c.permissions.enabled = false;
}

/// `/auth/debug` as `bearer` with `headers`: (re-auth asked?, body).
async fn debug(app: &TestApp, bearer: &str, headers: &[(&str, &str)]) -> (bool, Value) {
    let mut req = reqwest::Client::new()
        .get(app.url("/auth/debug"))
        .bearer_auth(bearer);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let reauth = resp
        .headers()
        .get("x-spectrocloud-reauth-required")
        .is_some_and(|v| v == "true");
    (reauth, json(resp).await)
}

async fn my_projects(app: &TestApp, bearer: &str, headers: &[(&str, &str)]) -> Vec<String> {
    let mut req = reqwest::Client::new()
        .get(app.url("/users/me/projects"))
        .bearer_auth(bearer);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let v = json(req.send().await.unwrap()).await;
    let mut p: Vec<String> = v["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["uid"].as_str().unwrap().to_string())
        .collect();
    p.sort();
    p
}

const EMAIL: &str = "X-SpectroCloud-User-Email";
const TOKEN: &str = "X-SpectroCloud-Token";

/// A forged HS256 token with `exp` 9999999999: it would beat every real one under "newer wins".
fn pin_token() -> String {
    let t = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "alice", "email": "alice@acme.example", "exp": 9_999_999_999i64}),
        &jsonwebtoken::EncodingKey::from_secret(b"guessed-secret").unwrap(),
    )
    .unwrap();
    remember_secret(&t);
    t
}

#[tokio::test]
async fn borrowing_planting_and_pinning_fail() {
    let (sim, app) = synced(SimConfig::default(), two_callers).await;
    let alice = sim_token(&sim, "alice@acme.example").await;
    let bob = sim_token(&sim, "bob@acme.example").await;
    let alice_projects = my_projects(&app, PROXY, &[(TOKEN, &alice)]).await;
    let bob_projects = my_projects(&app, PROXY, &[(TOKEN, &bob)]).await;
    assert!(!alice_projects.is_empty() && alice_projects != bob_projects);

    // Borrowing: alice came through the shared proxy with her token; anyone behind the proxy
    // naming her email gets no token, a re-auth request and the key.
    let (reauth, v) = debug(
        &app,
        PROXY,
        &[(EMAIL, "alice@acme.example"), (TOKEN, &alice)],
    )
    .await;
    assert!(!reauth && v["paletteUser"]["email"] == "alice@acme.example");
    let (reauth, v) = debug(&app, PROXY, &[(EMAIL, "alice@acme.example")]).await;
    assert!(reauth && v["paletteUser"]["hasToken"] == false, "{v}");
    assert_eq!(v["paletteUser"]["email"], Value::Null);
    assert_eq!(v["paletteUser"]["claimedEmail"], "alice@acme.example");

    // Planting: bob's token under alice's email is bob, for scope and identity, and is
    // never cached for alice — not through the proxy, not by alice's own caller.
    let (_, v) = debug(&app, PROXY, &[(EMAIL, "alice@acme.example"), (TOKEN, &bob)]).await;
    assert_eq!(v["paletteUser"]["email"], "bob@acme.example");
    let planted = my_projects(&app, ALICE, &[(EMAIL, "alice@acme.example"), (TOKEN, &bob)]).await;
    assert_eq!(planted, bob_projects);
    let (reauth, v) = debug(&app, ALICE, &[(EMAIL, "alice@acme.example")]).await;
    assert!(
        reauth && v["paletteUser"]["hasToken"] == false,
        "planted: {v}"
    );
    assert_eq!(v["userCaches"]["tokens"], 0);

    // Alice's own caller with her own token: cached, and her email alone finds it.
    my_projects(
        &app,
        ALICE,
        &[(EMAIL, "alice@acme.example"), (TOKEN, &alice)],
    )
    .await;
    let (reauth, v) = debug(&app, ALICE, &[(EMAIL, "alice@acme.example")]).await;
    assert!(!reauth && v["paletteUser"]["tokenSource"] == "cache", "{v}");
    // Claiming another email with alice's caller finds nothing.
    let (reauth, v) = debug(&app, ALICE, &[(EMAIL, "ceo@acme.example")]).await;
    assert!(reauth && v["paletteUser"]["hasToken"] == false);

    // Pinning: a forged HS256 token with exp 9999999999 is refused by Palette, never cached,
    // and the real one keeps serving alice.
    let pin = pin_token();
    let (reauth, v) = debug(&app, ALICE, &[(EMAIL, "alice@acme.example"), (TOKEN, &pin)]).await;
    assert!(!reauth && v["paletteUser"]["tokenSource"] == "cache", "{v}");
    let (_, v) = debug(&app, ALICE, &[(EMAIL, "alice@acme.example")]).await;
    assert_eq!(v["paletteUser"]["tokenSource"], "cache");
    assert_eq!(v["paletteUser"]["email"], "alice@acme.example");
    assert_eq!(
        my_projects(&app, ALICE, &[(EMAIL, "alice@acme.example")]).await,
        alice_projects
    );
    // Through the shared proxy the pin is just a refused token: re-auth, never alice's view.
    let (reauth, _) = debug(&app, PROXY, &[(EMAIL, "alice@acme.example"), (TOKEN, &pin)]).await;
    assert!(reauth);
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn forged_tokens_keep_the_caches_bounded() {
    let (sim, app) = synced(SimConfig::default(), |c| {
        two_callers(c);
        c.auth.user_cache_capacity = 5;
    })
    .await;
    // 10,000 forged tokens, each under a new email, 16 at a time.
    let forged = foreign_token(3600);
    let client = http_client();
    let url = app.url("/auth/debug");
    let statuses: Vec<u16> = futures::stream::iter(0..10_000)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            // A new token each time: the signature part changes, the secret prefix does not.
            let token = format!("{forged}{i}");
            async move {
                client
                    .get(url)
                    .bearer_auth(PROXY)
                    .header(EMAIL, format!("user{i}@evil.example"))
                    .header(TOKEN, token)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 200));
    let (_, v) = debug(&app, PROXY, &[]).await;
    assert_eq!(v["userCaches"]["tokens"], 0, "{v}");
    assert_eq!(
        v["userCaches"]["verifiedTokens"], 0,
        "nothing Palette refused is kept"
    );
    let pool = app.mirror().await;
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM user_scopes WHERE env = ?",
            "env0"
        )
        .await,
        0
    );

    // Tokens far larger than Palette's are refused unread: no call to Palette.
    let before = v["userCaches"]["verifications"].as_u64().unwrap();
    let huge = format!("{forged}{}", "A".repeat(30_000));
    let (reauth, v) = debug(&app, PROXY, &[(EMAIL, "x@evil.example"), (TOKEN, &huge)]).await;
    assert!(reauth && v["paletteUser"]["hasToken"] == false);
    assert_eq!(v["userCaches"]["verifications"].as_u64().unwrap(), before);

    // One claimed email with many refused tokens: verification calls stop after a budget.
    for i in 0..40 {
        let t = format!("{forged}x{i}");
        debug(&app, PROXY, &[(EMAIL, "alice@acme.example"), (TOKEN, &t)]).await;
    }
    let (_, v) = debug(&app, PROXY, &[]).await;
    let calls = v["userCaches"]["verifications"].as_u64().unwrap() - before;
    assert!(calls <= 12, "{calls} /v1/users/me calls for one email");

    // Accepted tokens are kept, but no more than the capacity.
    for i in 0..12 {
        // Distinct lifetimes make distinct tokens.
        let v = sim_control(
            &sim,
            reqwest::Method::POST,
            "/tokens",
            Some(json!({"email": "alice@acme.example", "ttl_seconds": 600 + i})),
        )
        .await;
        let t = v["token"].as_str().unwrap().to_string();
        remember_secret(&t);
        debug(&app, PROXY, &[(TOKEN, &t)]).await;
    }
    let (_, v) = debug(&app, PROXY, &[]).await;
    assert_eq!(v["userCaches"]["verifiedTokens"], 5, "{v}");
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM user_scopes WHERE env = ?",
            "env0"
        )
        .await,
        1
    );
    app.stop().await;
    sim.stop().await;
}

fn backstage(c: &mut Config, url: String, audience: Option<&str>) {
    c.auth.mode = AuthMode::Backstage;
    c.auth.backstage = Some(BackstageAuthConfig {
        jwks_url: url,
        issuer: Some(ISSUER.into()),
        audience: audience.map(str::to_string),
    });
    c.permissions.enabled = false;
}

#[tokio::test]
async fn a_burst_of_unknown_kids_makes_one_jwks_fetch_and_rotation_still_works() {
    let a = es256_key("key-a");
    let jwks = jwks_server(json!({"keys": [a.jwk]})).await;
    let url = jwks.url.clone();
    let app = spawn_app_with(move |c| backstage(c, url, None)).await;
    let client = http_client();
    // A slow Backstage: every JWKS answer takes longer than the 2 s spacing of fetches (which
    // therefore counts from a fetch's end, or the waiters would fetch again one by one).
    jwks.delay_ms.store(2500, Ordering::Relaxed);
    let started = std::time::Instant::now();
    // 20 concurrent tokens, each with a forged kid.
    let forged: Vec<String> = (0..20)
        .map(|i| {
            backstage_token(
                &es256_key(&format!("forged-{i}")),
                "user:default/eve",
                &[],
                300,
                ISSUER,
            )
        })
        .collect();
    let answers = futures::future::join_all(
        forged
            .iter()
            .map(|t| client.get(app.url("/auth/debug")).bearer_auth(t).send()),
    )
    .await;
    assert!(answers.iter().all(|r| r.as_ref().unwrap().status() == 401));
    assert_eq!(
        jwks.fetches.load(Ordering::Relaxed),
        1,
        "one fetch for the burst"
    );
    // Back to back they took 50 s; behind one fetch they all answer well within 10 s.
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    // Right after a fetch, another unknown kid fails at once, without a fetch.
    let late = backstage_token(
        &es256_key("forged-late"),
        "user:default/eve",
        &[],
        300,
        ISSUER,
    );
    let resp = client
        .get(app.url("/auth/debug"))
        .bearer_auth(late)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(jwks.fetches.load(Ordering::Relaxed), 1);
    jwks.delay_ms.store(0, Ordering::Relaxed);
    // A legitimate rotated key is found once the fetch is not recent any more.
    let b = es256_key("key-b");
    *jwks.keys.lock().unwrap() = json!({"keys": [a.jwk, b.jwk]});
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let ok = client
        .get(app.url("/auth/debug"))
        .bearer_auth(backstage_token(&b, "user:default/ada", &[], 300, ISSUER))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(jwks.fetches.load(Ordering::Relaxed), 2);
    app.stop().await;
    jwks.handle.stop(false).await;
}

#[tokio::test]
async fn not_yet_valid_and_audience_less_jwts_are_refused() {
    let a = es256_key("key-a");
    let jwks = jwks_server(json!({"keys": [a.jwk]})).await;
    let url = jwks.url.clone();
    let app = spawn_app_with(move |c| backstage(c, url, Some("backstage"))).await;
    let sign = |claims: Value| {
        let mut h = jsonwebtoken::Header::new(a.alg);
        h.kid = Some(a.kid.clone());
        let t = jsonwebtoken::encode(&h, &claims, &a.key).unwrap();
        remember_secret(&t);
        t
    };
    let now = chrono::Utc::now().timestamp();
    let base = json!({"sub": "user:default/ada", "iss": ISSUER, "exp": now + 300});
    let with = |extra: Value| {
        let mut c = base.clone();
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        sign(c)
    };
    let status = |t: String| {
        let url = app.url("/auth/debug");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(with(json!({"aud": "backstage"}))).await, 200);
    assert_eq!(
        status(with(json!({}))).await,
        401,
        "no aud although configured"
    );
    assert_eq!(status(with(json!({"aud": "other"}))).await, 401);
    assert_eq!(
        status(with(json!({"aud": "backstage", "nbf": now + 600}))).await,
        401,
        "not valid yet"
    );
    assert_eq!(
        status(with(json!({"aud": "backstage", "nbf": now - 60}))).await,
        200
    );
    app.stop().await;
    jwks.handle.stop(false).await;
}

#[tokio::test]
async fn require_user_token_refuses_the_key_view() {
    let (sim, app) = synced(SimConfig::default(), |c| {
        two_callers(c);
        c.environments[0].require_user_token = Some(true);
    })
    .await;
    let alice = sim_token(&sim, "alice@acme.example").await;
    let get = |path: &str, headers: Vec<(&'static str, String)>| {
        let mut req = reqwest::Client::new().get(app.url(path)).bearer_auth(PROXY);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        async move { req.send().await.unwrap() }
    };
    for headers in [
        vec![],
        vec![(EMAIL, "alice@acme.example".to_string())],
        vec![(TOKEN, foreign_token(600))],
    ] {
        let resp = get("/clusters", headers).await;
        assert_eq!(resp.headers()["x-spectrocloud-reauth-required"], "true");
        assert_error(resp, 401, "unauthenticated").await;
    }
    let resp = get("/clusters", vec![(TOKEN, alice.clone())]).await;
    assert_eq!(resp.status(), 200);
    assert!(!json(resp).await["clusters"].as_array().unwrap().is_empty());
    // /auth/debug still says who the caller is.
    assert_eq!(get("/auth/debug", vec![]).await.status(), 200);
    app.stop().await;

    // Default: the original's behaviour, the key's view.
    let app = spawn_app_for(&[&sim], two_callers).await;
    let resp = reqwest::Client::new()
        .get(app.url("/auth/debug"))
        .bearer_auth(PROXY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!app.config.auth.require_user_token);
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn audit_records_denials_and_claimed_versus_verified_identity() {
    let (sim, app) = synced(SimConfig::default(), |c| {
        two_callers(c);
        c.permissions.enabled = true;
        c.permissions.grants = vec![spectrocloud_backend::config::Grant {
            principals: vec!["service:backstage-proxy".into()],
            allow: vec!["spectrocloud.*".into()],
        }];
    })
    .await;
    let bob = sim_token(&sim, "bob@acme.example").await;
    let clusters = json(
        reqwest::Client::new()
            .get(app.url("/clusters"))
            .bearer_auth(PROXY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let uid = clusters["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"]["state"] == "Running")
        .unwrap()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let kube = |bearer: &'static str, uid: String, headers: Vec<(&'static str, String)>| {
        let mut req = reqwest::Client::new()
            .get(app.url(&format!("/clusters/{uid}/kubeconfig")))
            .bearer_auth(bearer);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // A key download claiming the CEO is recorded as claimed, not verified.
    assert_eq!(
        kube(PROXY, uid.clone(), vec![(EMAIL, "ceo@acme.example".into())]).await,
        200
    );
    // Bob's token under the CEO's email is recorded as bob.
    kube(
        PROXY,
        uid.clone(),
        vec![(EMAIL, "ceo@acme.example".into()), (TOKEN, bob.clone())],
    )
    .await;
    // Refused: no permission (alice has none), and a bad uid.
    assert_eq!(kube(ALICE, uid.clone(), vec![]).await, 403);
    assert_eq!(kube(PROXY, "not-a-uid!".into(), vec![]).await, 400);

    let log = json(
        reqwest::Client::new()
            .get(app.url("/audit"))
            .bearer_auth(PROXY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let e = log["entries"].as_array().unwrap();
    assert_eq!(e[0]["outcome"], "denied", "{}", e[0]);
    assert_eq!(e[0]["action"], "kubeconfig.download");
    assert!(e[0]["detail"].as_str().unwrap().contains("400"));
    assert_eq!(e[1]["outcome"], "denied");
    assert_eq!(e[1]["subject"], "user:default/alice");
    assert!(
        e[1]["detail"]
            .as_str()
            .unwrap()
            .contains("download-kubeconfig")
    );
    assert_eq!(e[2]["palette_email"], "bob@acme.example");
    assert_eq!(e[2]["claimed_email"], "ceo@acme.example");
    assert_eq!(e[2]["credential"], "user_token");
    assert!(e[2]["palette_user_uid"].is_string());
    assert_eq!(e[3]["palette_email"], Value::Null);
    assert_eq!(e[3]["claimed_email"], "ceo@acme.example");
    assert_eq!(e[3]["credential"], "api_key");
    assert_eq!(e[3]["outcome"], "success");
    app.stop().await;
    sim.stop().await;
}
