//! The fleet page (`<base>/ui/`): its sign-in cookie, permissions per section, escaping, and a
//! real headless Chromium loading it against the real server and simulator.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::{Value, json};
use spectrocloud_backend::config::{AuthMode, Config, Grant, Secret, StaticToken};

use crate::helpers::*;

const ADMIN: &str = "ui-admin-token-3f9c1a77";
const VIEWER: &str = "ui-viewer-token-8d21b4e0";

fn with_tokens(c: &mut Config) {
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
    ];
    c.permissions.enabled = true;
    c.permissions.grants = vec![
        Grant {
            principals: vec!["group:default/platform".into()],
            allow: vec!["spectrocloud.*".into()],
        },
        Grant {
            principals: vec!["group:default/viewers".into()],
            allow: vec!["spectrocloud.cluster.view-info".into()],
        },
    ];
}

/// A client that neither follows redirects nor sends any default header.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn set_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Signs in through the form from the page's own origin; the `name=value` cookie pair.
pub async fn sign_in(app: &TestApp, token: &str) -> String {
    let resp = browser()
        .post(app.url("/ui/signin"))
        .header(ORIGIN, &app.address)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "sign-in with a valid token");
    let cookie = set_cookie(&resp).expect("a session cookie");
    let pair = cookie.split(';').next().unwrap().to_string();
    // A session id is a credential: it must never be logged.
    remember_secret(pair.split_once('=').unwrap().1);
    pair
}

#[tokio::test]
async fn signing_in_keeps_the_token_in_a_strict_cookie_only_the_page_accepts() {
    let (sim, app) = synced(SimConfig::default(), with_tokens).await;
    let ui = app.url("/ui/");
    let signin = app.url("/ui/signin");
    let b = browser();

    let resp = b.get(&ui).send().await.unwrap();
    assert_eq!(resp.status(), 303, "no cookie: to the sign-in form");
    assert_eq!(resp.headers()[LOCATION], "/api/spectrocloud/ui/signin");
    let form = b.get(&signin).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains("name=\"token\""));

    // CSRF: a post without our Origin never signs anyone in, whatever the token.
    let post = |origin: Option<&str>, token: &str| {
        // Test tokens are URL-safe: no encoding needed.
        let mut r = b
            .post(&signin)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("token={token}"));
        if let Some(o) = origin {
            r = r.header(ORIGIN, o);
        }
        r.send()
    };
    for origin in [None, Some("http://evil.example"), Some("null")] {
        let resp = post(origin, ADMIN).await.unwrap();
        assert_eq!(resp.status(), 403, "origin {origin:?}");
        assert!(set_cookie(&resp).is_none());
    }
    let empty = b
        .post(&signin)
        .header(ORIGIN, &app.address)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("other=1")
        .send()
        .await
        .unwrap();
    assert_error(empty, 400, "bad_request").await;
    let resp = post(Some(&app.address), "not-a-token").await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(set_cookie(&resp).is_none());

    let resp = post(Some(&app.address), ADMIN).await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/api/spectrocloud/ui/");
    let cookie = set_cookie(&resp).expect("a cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/api/spectrocloud/ui"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: no Secure flag");
    let pair = cookie.split(';').next().unwrap().to_string();
    assert!(pair.starts_with("sc_ui_session="), "{pair}");
    assert!(!pair.contains(ADMIN), "the cookie never carries the bearer");

    let page = b.get(&ui).header(COOKIE, &pair).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"));
    let html = page.text().await.unwrap();
    assert!(html.contains("user:default/ada") && html.contains("data-profile="));

    // The API never takes the cookie for a bearer token.
    let api = b
        .get(app.url("/clusters"))
        .header(COOKIE, &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);

    // Signing out clears the cookie; a post from elsewhere cannot.
    let out = |origin: &str| {
        b.post(app.url("/ui/signout"))
            .header(COOKIE, &pair)
            .header(ORIGIN, origin.to_string())
            .send()
    };
    assert_eq!(out("http://evil.example").await.unwrap().status(), 403);
    let resp = out(&app.address).await.unwrap();
    assert_eq!(resp.status(), 303);
    let cleared = set_cookie(&resp).expect("a removal cookie");
    assert!(cleared.starts_with("sc_ui_session=;") && cleared.contains("Max-Age=0"));
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_captured_cookie_stops_working_at_sign_out_and_never_was_the_bearer() {
    let (sim, app) = synced(SimConfig::default(), |c| {
        with_tokens(c);
        c.ui.max_sessions_per_subject = 2;
    })
    .await;
    let b = browser();
    let get = |path: &str, cookie: &str| {
        b.get(app.url(path))
            .header(COOKIE, cookie.to_string())
            .send()
    };
    let first = sign_in(&app, ADMIN).await;
    let captured = sign_in(&app, ADMIN).await;
    assert_ne!(first, captured, "every sign-in gets its own session");
    assert!(!captured.contains(ADMIN), "{captured}");
    for path in ["/ui/", "/ui/profile-usage.csv"] {
        assert_eq!(get(path, &captured).await.unwrap().status(), 200, "{path}");
    }
    // The bearer itself is no session, whatever the cookie's name.
    for raw in [
        format!("sc_ui_session={ADMIN}"),
        format!("sc_ui_token={ADMIN}"),
    ] {
        assert_eq!(get("/ui/", &raw).await.unwrap().status(), 303, "{raw}");
    }

    // Sign-out ends the session on the server: the copy kept elsewhere is refused too.
    let out = b
        .post(app.url("/ui/signout"))
        .header(COOKIE, &captured)
        .header(ORIGIN, &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    for path in ["/ui/", "/ui/profile-usage.csv"] {
        let resp = get(path, &captured).await.unwrap();
        assert_eq!(resp.status(), 303, "{path} after sign-out");
        assert_eq!(resp.headers()[LOCATION], "/api/spectrocloud/ui/signin");
    }
    assert_eq!(
        get("/ui/", &first).await.unwrap().status(),
        200,
        "other sessions go on"
    );

    // At most two sessions per subject: a third sign-in ends the oldest.
    let _second = sign_in(&app, ADMIN).await;
    let _third = sign_in(&app, ADMIN).await;
    assert_eq!(
        get("/ui/", &first).await.unwrap().status(),
        303,
        "the oldest ended"
    );
    let rows: i64 = sqlx::query_scalar(q("SELECT count(*) FROM ui_sessions WHERE subject = ?"))
        .bind("user:default/ada")
        .fetch_one(&app.mirror().await)
        .await
        .unwrap();
    assert_eq!(rows, 2);
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn behind_a_proxy_only_the_configured_origin_may_sign_in() {
    const PUBLIC: &str = "https://sc.example.com";
    let (sim, app) = synced(SimConfig::default(), |c| {
        with_tokens(c);
        c.ui.public_url = Some(format!("{PUBLIC}/"));
    })
    .await;
    let b = browser();
    let post = |origin: &str, forwarded: bool| {
        let mut r = b
            .post(app.url("/ui/signin"))
            .header(ORIGIN, origin.to_string())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("token={ADMIN}"));
        if forwarded {
            r = r
                .header("X-Forwarded-Host", "evil.example")
                .header("X-Forwarded-Proto", "https")
                .header("Forwarded", "host=evil.example;proto=https");
        }
        r.send()
    };
    // Forwarded headers naming the attacker's host do not make its origin ours.
    let forged = post("https://evil.example", true).await.unwrap();
    assert_eq!(forged.status(), 403);
    assert!(set_cookie(&forged).is_none());
    // Nor does the address the service happens to be reached at.
    assert_eq!(post(&app.address, false).await.unwrap().status(), 403);
    let ok = post(PUBLIC, false).await.unwrap();
    assert_eq!(ok.status(), 303);
    let cookie = set_cookie(&ok).unwrap();
    assert!(
        cookie.contains("Secure"),
        "an https public origin: {cookie}"
    );
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn each_section_follows_the_callers_permissions() {
    let (sim, app) = synced(SimConfig::default(), with_tokens).await;
    let b = browser();
    let (viewer, admin) = (sign_in(&app, VIEWER).await, sign_in(&app, ADMIN).await);
    let page = |cookie: &String| b.get(app.url("/ui/")).header(COOKIE, cookie).send();
    let viewer = page(&viewer).await.unwrap();
    assert_eq!(viewer.status(), 200);
    let html = viewer.text().await.unwrap();
    // view-info only: freshness yes, profile usage and pack search no.
    assert!(html.contains("data-env=\"env0\""), "freshness is shown");
    let denied = "You do not have the permission spectrocloud.profile.view-clusters needed here.";
    assert_eq!(html.matches(denied).count(), 2, "profiles and packs say so");
    assert!(!html.contains("data-profile="));

    let admin = page(&admin).await.unwrap().text().await.unwrap();
    assert!(!admin.contains("You do not have the permission"));
    assert!(admin.contains("data-profile="));
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn text_from_palette_is_escaped() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let usage = json(app.get("/reports/profile-usage").await).await;
    let version_uid = usage["profiles"][0]["versions"][0]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let evil = "<img src=x onerror=alert(1)>";
    sim_control(
        &sim,
        reqwest::Method::POST,
        &format!("/profiles/{version_uid}/versions"),
        Some(json!({ "version": evil })),
    )
    .await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let html = app.get("/ui/").await.text().await.unwrap();
    // askama writes `<` as `&#60;`.
    assert!(
        html.contains("&#60;img src=x onerror=alert(1)&#62;"),
        "escaped: {html}"
    );
    assert!(!html.contains(evil), "never raw");
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn the_page_and_its_assets_answer_without_authentication_in_mode_none() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let b = browser();
    let bare = b.get(app.url("/ui")).send().await.unwrap();
    assert_eq!(bare.status(), 308);
    assert_eq!(bare.headers()[LOCATION], "/api/spectrocloud/ui/");
    assert_eq!(
        b.get(app.url("/ui/signin")).send().await.unwrap().status(),
        303,
        "no sign-in in mode none"
    );
    for (path, kind) in [
        ("/ui/fleet.css", "text/css"),
        ("/ui/fleet.js", "text/javascript"),
    ] {
        let resp = b.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let ct = resp.headers()["content-type"].to_str().unwrap();
        assert!(ct.starts_with(kind), "{path}: {ct}");
    }
    let missing = b.get(app.url("/ui/nothing-here")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    app.stop().await;
    sim.stop().await;
}

// ------------------------------------------------------------------ headless Chromium

/// The Chromium binary, if installed.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// Where the CI artifact goes: `target/ui-screenshot.png`.
fn screenshot_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("ui-screenshot.png")
}

/// Runs headless Chromium on `url` with `mode` (`--dump-dom` or `--screenshot=...`); returns
/// stdout and the console messages it logged.
async fn run_chromium(bin: &Path, mode: &str, url: &str) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().expect("profile dir");
    let run = tokio::process::Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            "--window-size=1366,1600",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(mode)
        .arg(url)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("chromium finishes within 90 s")
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

/// The text of the element carrying `data-k="<key>"` inside `scope`.
fn value_of(scope: &str, key: &str) -> Option<String> {
    let marker = format!("data-k=\"{key}\">");
    let at = scope.find(&marker)? + marker.len();
    let rest = &scope[at..];
    Some(rest[..rest.find('<')?].trim().to_string())
}

/// The `<tr ...>` row carrying `attr="value"`.
fn row<'a>(dom: &'a str, attr: &str, value: &str) -> Option<&'a str> {
    let at = dom.find(&format!("{attr}=\"{value}\""))?;
    let rest = &dom[at..];
    Some(&rest[..rest.find("</tr>")?])
}

#[tokio::test]
async fn headless_chromium_loads_the_page_without_console_errors_and_shows_the_reports_numbers() {
    let Some(bin) = chromium() else {
        if std::env::var_os("SPECTROCLOUD_REQUIRE_CHROMIUM").is_some_and(|v| v == "1") {
            panic!("SPECTROCLOUD_REQUIRE_CHROMIUM=1 but chromium is not installed");
        }
        eprintln!(
            "SKIPPED: chromium is not installed (apt-get install -y chromium); .ci/run installs it"
        );
        return;
    };
    // The console check must be able to fail: a page that logs an error is caught.
    let dir = tempfile::tempdir().expect("temp dir");
    let probe = dir.path().join("probe.html");
    std::fs::write(&probe, "<script>console.error('ui-probe')</script>").unwrap();
    let probe = format!("file://{}", probe.display());
    let (_, console) = run_chromium(&bin, "--dump-dom", &probe).await;
    assert!(
        console.iter().any(|l| l.contains("ui-probe")),
        "console messages are seen: {console:?}"
    );

    let sim = spawn_sim_with(SimConfig {
        sizes: sizes(3, 80, 12),
        ..SimConfig::default()
    })
    .await;
    let other = spawn_sim_with(SimConfig {
        seed: 7,
        ..SimConfig::default()
    })
    .await;
    let app = spawn_app_for(&[&sim, &other], |_| {}).await;
    for env in ["env0", "env1"] {
        assert_eq!(app.sync(env).await["outcome"], "success");
    }
    // Some history: a few clusters change, then the next sync sees it.
    sim_control(&sim, reqwest::Method::POST, "/churn", None).await;
    assert_eq!(app.sync("env0").await["outcome"], "success");

    let url = app.url("/ui/?instance=env0&pack=kubernetes&version=1.30");
    let (dom, console) = run_chromium(&bin, "--dump-dom", &url).await;
    assert!(
        console.is_empty(),
        "console messages on the page: {console:#?}"
    );
    assert!(
        dom.contains("data-env=\"env1\""),
        "both environments are listed"
    );

    let usage = json(app.get("/reports/profile-usage?instance=env0").await).await;
    let profiles = usage["profiles"].as_array().unwrap();
    assert!(!profiles.is_empty());
    for p in profiles {
        let uid = p["uid"].as_str().unwrap();
        let r = row(&dom, "data-profile", uid).unwrap_or_else(|| panic!("row of profile {uid}"));
        assert_eq!(
            value_of(r, "clusters"),
            Some(p["clusters"].to_string()),
            "{uid}"
        );
        assert_eq!(
            value_of(r, "backlog"),
            Some(p["upgradeBacklog"].to_string()),
            "{uid}"
        );
    }
    let backlog: i64 = profiles
        .iter()
        .map(|p| p["upgradeBacklog"].as_i64().unwrap())
        .sum();
    assert_eq!(value_of(&dom, "backlog"), Some(backlog.to_string()));
    assert_eq!(value_of(&dom, "profiles"), Some(profiles.len().to_string()));

    let packs = json(
        app.get("/reports/pack-usage?instance=env0&name=kubernetes&version=1.30")
            .await,
    )
    .await;
    let total: i64 = packs["packs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["clusters"].as_i64().unwrap())
        .sum();
    assert!(total > 0, "the dataset runs kubernetes 1.30: {packs}");
    assert_eq!(value_of(&dom, "pack-total"), Some(total.to_string()));

    let fleet = json(app.get("/reports/fleet?instance=env0").await).await;
    let counts = &fleet["environments"][0];
    assert_eq!(
        value_of(&dom, "total"),
        Some(counts["clusters"].to_string())
    );
    for (key, field) in [
        ("state", "byState"),
        ("health", "byHealth"),
        ("cloud", "byCloudType"),
        ("k8s", "byKubernetesVersion"),
    ] {
        let map = counts[field]
            .as_object()
            .unwrap_or_else(|| panic!("{field} in {counts}"));
        assert!(!map.is_empty(), "{field}");
        for (label, n) in map {
            let shown = value_of(&dom, &format!("{key}:{label}"));
            assert_eq!(shown, Some(n.to_string()), "{field} {label}");
        }
    }
    // The churned clusters show up among the latest changes, and the trend has today.
    let events = json(app.get("/events?instance=env0").await).await;
    let newest = events["events"].as_array().unwrap();
    assert!(!newest.is_empty(), "churn then sync records events");
    assert_eq!(
        dom.matches("<tr class=\"change\">").count(),
        newest.len().min(25)
    );
    // A day of history: drawn as bars, in the legend's colours.
    assert!(dom.contains("class=\"tbar c-"), "the trend is drawn");

    let shot = screenshot_path();
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&shot);
    let (_, console) = run_chromium(&bin, &format!("--screenshot={}", shot.display()), &url).await;
    assert!(console.is_empty(), "console messages: {console:#?}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
    eprintln!("screenshot: {}", shot.display());
    app.stop().await;
    sim.stop().await;
    other.stop().await;
}

#[tokio::test]
async fn churn_changes_a_few_clusters_and_a_sync_mirrors_it() {
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let before = json(app.get("/clusters").await).await;
    let out = sim_control(&sim, reqwest::Method::POST, "/churn", None).await;
    let changes = out["changes"].as_array().unwrap().clone();
    assert!(!changes.is_empty() && changes.len() <= 3, "{out}");
    assert_eq!(app.sync("env0").await["outcome"], "success");
    let after = json(app.get("/clusters").await).await;
    let find = |list: &Value, uid: &str| -> Value {
        list["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["metadata"]["uid"] == uid)
            .cloned()
            .unwrap_or(Value::Null)
    };
    for c in &changes {
        let uid = c["uid"].as_str().unwrap();
        assert_ne!(
            find(&before, uid),
            find(&after, uid),
            "cluster {uid} changed: {c}"
        );
    }
    // The knob: off by default; at one second the simulator churns by itself.
    assert_eq!(
        sim_control(&sim, reqwest::Method::GET, "/knobs", None).await["churn_every_seconds"],
        0
    );
    let base = sim_get(&sim, "/v1/dashboard/spectroclusters/meta").await;
    set_knobs(&sim, json!({ "churn_every_seconds": 1 })).await;
    let mut changed = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if sim_get(&sim, "/v1/dashboard/spectroclusters/meta").await != base {
            changed = true;
            break;
        }
    }
    assert!(changed, "the ticker churned within 10 s");
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn demo_prints_the_fleet_page_url_and_serves_it() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_spectrocloud-backend"))
        .args(["demo", "--bind", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let mut page = None;
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(rest) = line.strip_prefix("Fleet page: ") {
            page = rest.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let page = page.expect("demo prints the fleet page's URL");
    assert!(page.ends_with("/api/spectrocloud/ui/"), "{page}");
    let mut shown = false;
    for _ in 0..100 {
        if let Ok(resp) = reqwest::get(&page).await
            && resp.status() == 200
            && resp
                .text()
                .await
                .unwrap_or_default()
                .contains("data-profile=")
        {
            shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shown, "the demo's fleet page shows its profiles");
    let _ = child.start_kill();
}

#[tokio::test]
async fn csv_links_of_a_signed_in_page_download_the_reports_csv() {
    let (sim, app) = synced(SimConfig::default(), with_tokens).await;
    let b = browser();
    let (admin, viewer) = (sign_in(&app, ADMIN).await, sign_in(&app, VIEWER).await);
    let cookie = |t: &str| {
        if t == ADMIN {
            admin.clone()
        } else {
            viewer.clone()
        }
    };
    let html = b
        .get(app.url("/ui/"))
        .header(COOKIE, cookie(ADMIN))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let link = "/api/spectrocloud/ui/profile-usage.csv?instance=env0";
    assert!(
        html.contains(&format!("href=\"{link}\"")),
        "the page links its own CSV"
    );
    let page_csv = b
        .get(format!("{}{link}", app.address))
        .header(COOKIE, cookie(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(page_csv.status(), 200);
    assert!(
        page_csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let page_csv = page_csv.text().await.unwrap();
    // The same bytes as the API's CSV for the same caller.
    let api_csv = app
        .get("/reports/profile-usage?format=csv")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(page_csv, api_csv);
    assert!(page_csv.lines().count() > 1);

    let packs = format!(
        "{}/api/spectrocloud/ui/pack-usage.csv?instance=env0&name=kubernetes",
        app.address
    );
    let pack_csv = b
        .get(&packs)
        .header(COOKIE, cookie(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(pack_csv.status(), 200);
    let api_pack = app
        .get("/reports/pack-usage?format=csv&name=kubernetes")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(pack_csv.text().await.unwrap(), api_pack);

    let viewer = b
        .get(&packs)
        .header(COOKIE, cookie(VIEWER))
        .send()
        .await
        .unwrap();
    assert_eq!(
        viewer.status(),
        403,
        "the same permission as the API's report"
    );
    let anonymous = b.get(&packs).send().await.unwrap();
    assert_eq!(anonymous.status(), 303);
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn errors_are_html_pages_for_a_browser_and_json_for_a_script() {
    let sim = spawn_sim().await;
    let app = spawn_app_for(&[&sim], with_tokens).await;
    let b = browser();
    let (admin, viewer) = (sign_in(&app, ADMIN).await, sign_in(&app, VIEWER).await);
    const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let page = |path: &str, cookie: &str, accept: &str| {
        b.get(app.url(path))
            .header(COOKIE, cookie)
            .header("Accept", accept)
            .send()
    };

    // An unknown environment: the page's look, the configured ones as links.
    let resp = page("/ui/?instance=nope", &admin, HTML).await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(resp.headers().contains_key("content-security-policy"));
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("fleet.css") && html.contains("Unknown environment"),
        "{html}"
    );
    assert!(
        html.contains("href=\"/api/spectrocloud/ui/?instance=env0\""),
        "{html}"
    );
    assert!(!html.contains("\"code\""), "{html}");

    // A missing page and a refused download say what to do.
    let missing = page("/ui/nothing-here", &admin, HTML).await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("href=\"/api/spectrocloud/ui/\"")
    );
    let denied = page("/ui/pack-usage.csv?instance=env0", &viewer, HTML)
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let html = denied.text().await.unwrap();
    assert!(
        html.contains("spectrocloud.profile.view-clusters") && html.contains("<h1>"),
        "{html}"
    );

    // A refused sign-in stays the sign-in form, with its problem.
    let form = b
        .post(app.url("/ui/signin"))
        .header(ORIGIN, &app.address)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("Accept", HTML)
        .body("token=not-a-configured-token-0000")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 401);
    assert!(form.text().await.unwrap().contains("name=\"token\""));

    // A script (no text/html in Accept) keeps the API's JSON.
    let script = page("/ui/pack-usage.csv?instance=env0", &viewer, "*/*")
        .await
        .unwrap();
    assert_error(script, 403, "permission_denied").await;
    let script = page("/ui/?instance=nope", &admin, "application/json")
        .await
        .unwrap();
    assert_error(script, 404, "unknown_instance").await;
    app.stop().await;
    sim.stop().await;
}
