//! One body limit, `server.json_limit_bytes`, on every route family, and every 413 in the
//! family's own error shape: Backstage's for the actions registry, JSON-RPC for MCP,
//! `{error, code}` for the plugin routes and the fleet page.

use palette_sim::SimConfig;
use serde_json::{Value, json};

use crate::helpers::*;

const LIMIT: usize = 64 * 1024;

fn invoke_url(app: &TestApp, tool: &str) -> String {
    format!(
        "{}/.backstage/actions/v2/actions/spectrocloud:{tool}/invoke",
        app.base
    )
}

/// A body sent in chunks, without `Content-Length`.
fn chunked(bytes: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures::stream::iter(chunks))
}

fn padded(len: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({"input": {}, "pad": "x".repeat(len)})).unwrap()
}

async fn backstage_413(resp: reqwest::Response) {
    assert_eq!(resp.status(), 413);
    let v: Value = resp.json().await.expect("a JSON body");
    assert_eq!(v["error"]["name"], "PayloadTooLargeError", "{v}");
    assert_eq!(v["error"]["code"], "payload_too_large", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("65536"));
    assert_eq!(v["response"]["statusCode"], 413, "{v}");
}

#[tokio::test]
async fn every_family_refuses_a_body_past_the_limit_in_its_own_shape() {
    // An environment (never synced): a plugin route reads its body only for a known one.
    let sim = spawn_sim().await;
    let app = spawn_app_for(&[&sim], |c| c.server.json_limit_bytes = LIMIT).await;
    let post = |url: String| {
        app.client
            .post(url)
            .header("content-type", "application/json")
    };
    let big = padded(LIMIT + 1024);

    // Actions: declared and chunked (actix's own 256 KiB limit let the latter through).
    let url = invoke_url(&app, "list_spectrocloud_projects");
    backstage_413(post(url.clone()).body(big.clone()).send().await.unwrap()).await;
    backstage_413(post(url).body(chunked(big.clone())).send().await.unwrap()).await;

    // MCP: a JSON-RPC error either way.
    for body in [reqwest::Body::from(big.clone()), chunked(big.clone())] {
        let resp = post(app.url("/mcp"))
            .header("accept", "application/json, text/event-stream")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 413);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["jsonrpc"], "2.0", "{v}");
        assert_eq!(v["error"]["code"], -32600, "{v}");
    }

    // Plugin routes: {error, code}.
    for body in [reqwest::Body::from(big.clone()), chunked(big.clone())] {
        let resp = post(app.url("/clusters")).body(body).send().await.unwrap();
        assert_error(resp, 413, "payload_too_large").await;
    }

    // The fleet page's sign-in form (its own, smaller limit): 413 too, not 400.
    let form = format!("token={}", "t".repeat(9 * 1024));
    let resp = app
        .client
        .post(app.url("/ui/signin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_error(resp, 413, "payload_too_large").await;
    app.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn an_action_takes_a_body_up_to_the_configured_limit() {
    // The default limit is 1 MiB; actix's own default for a body read whole is 256 KiB.
    let (sim, app) = synced(SimConfig::default(), |_| {}).await;
    let body = padded(300 * 1024);
    let resp = app
        .client
        .post(invoke_url(&app, "list_spectrocloud_projects"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert!(v["output"]["items"].is_array(), "{v}");
    app.stop().await;
    sim.stop().await;
}
