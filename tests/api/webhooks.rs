//! Webhook deliveries receivers can trust: Standard Webhooks headers whose signature covers
//! id, timestamp and body; no redirects followed; batches kept in the database so one pending
//! at a stop is delivered after the restart under the same `webhook-id`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use spectrocloud_backend::config::{Config, Secret, WebhookConfig};

use crate::helpers::*;

/// What a receiver got: the `webhook-*` headers and the body.
#[derive(Clone, Debug)]
struct Got {
    id: Option<String>,
    timestamp: Option<String>,
    signature: Option<String>,
    body: Vec<u8>,
}

type Log = Arc<Mutex<Vec<Got>>>;

/// A local receiver; `answer(n)` (n = 1 for the first request) says how to answer: a status,
/// and for a 3xx the `Location`.
async fn receiver(
    answer: impl Fn(usize) -> (u16, Option<String>) + Send + Sync + Clone + 'static,
) -> (String, Log, actix_web::dev::ServerHandle) {
    receiver_taking(Duration::ZERO, answer).await
}

/// [`receiver`] that takes `delay` over each answer (a sender holds its claim that long).
async fn receiver_taking(
    delay: Duration,
    answer: impl Fn(usize) -> (u16, Option<String>) + Send + Sync + Clone + 'static,
) -> (String, Log, actix_web::dev::ServerHandle) {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, http::StatusCode, web};
    let log: Log = Arc::default();
    let data = web::Data::new(log.clone());
    let server = HttpServer::new(move || {
        let answer = answer.clone();
        App::new().app_data(data.clone()).default_service(web::to(
            move |req: HttpRequest, body: web::Bytes, log: web::Data<Log>| {
                let answer = answer.clone();
                async move {
                    let h = |n: &str| {
                        req.headers()
                            .get(n)
                            .map(|v| v.to_str().unwrap().to_string())
                    };
                    let n = {
                        let mut l = log.lock().unwrap();
                        l.push(Got {
                            id: h("webhook-id"),
                            timestamp: h("webhook-timestamp"),
                            signature: h("webhook-signature"),
                            body: body.to_vec(),
                        });
                        l.len()
                    };
                    tokio::time::sleep(delay).await;
                    let (status, location) = answer(n);
                    let mut resp = HttpResponse::build(StatusCode::from_u16(status).unwrap());
                    if let Some(l) = location {
                        resp.insert_header(("location", l));
                    }
                    resp.finish()
                }
            },
        ))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://{addr}/hook"), log, handle)
}

fn hook(url: &str, secret: Option<&str>) -> WebhookConfig {
    WebhookConfig {
        url: url.into(),
        types: vec![],
        secret: secret.map(Secret::new),
    }
}

/// Changes one cluster's state in the simulator and syncs: one `cluster.state_changed`.
async fn one_change(sim: &SimServer, app: &TestApp) {
    let clusters: Value = json(app.get("/clusters").await).await;
    let c = &clusters["clusters"][0];
    let uid = c["metadata"]["uid"].as_str().unwrap();
    let state = if c["status"]["state"] == "Error" {
        "Running"
    } else {
        "Error"
    };
    sim_control(
        sim,
        Method::POST,
        &format!("/clusters/{uid}/state"),
        Some(json!({ "state": state })),
    )
    .await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
}

async fn wait_for(log: &Log, n: usize, what: &str) {
    for _ in 0..200 {
        if log.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: {} requests after 10 s", log.lock().unwrap().len());
}

/// Whether the signature header holds the spec's signature of id, timestamp and body.
fn signed(got: &Got, secret: &str) -> bool {
    let id = got.id.as_deref().expect("webhook-id");
    let ts = got.timestamp.as_deref().expect("webhook-timestamp");
    let key = B64
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&got.body);
    let want = format!("v1,{}", B64.encode(mac.finalize().into_bytes()));
    let sigs = got.signature.as_deref().expect("webhook-signature");
    sigs.split(' ').any(|s| s == want)
}

/// Verifies a delivery as a Standard Webhooks receiver does; the timestamp it carried.
fn verify(got: &Got, secret: &str) -> i64 {
    assert!(signed(got, secret), "signature of {got:?}");
    let ts = got.timestamp.as_deref().expect("webhook-timestamp");
    let ts: i64 = ts.parse().expect("unix seconds");
    let skew = (chrono::Utc::now().timestamp() - ts).abs();
    assert!(skew < 300, "timestamp {ts} is {skew} s off");
    ts
}

#[tokio::test]
async fn deliveries_carry_standard_webhooks_headers_whose_signature_verifies() {
    let secret = format!("whsec_{}", B64.encode(b"0123456789abcdef0123456789abcdef"));
    remember_secret(&secret);
    // The first attempt is refused: the retry keeps the id and is signed afresh.
    let (url, log, srv) = receiver(|n| (if n == 1 { 500 } else { 204 }, None)).await;
    let sim = spawn_sim().await;
    let (hook_secret, hook_url) = (secret.clone(), url.clone());
    let app = spawn_app_for(&[&sim], move |c: &mut Config| {
        c.notifications.retry_base_ms = 1100;
        c.notifications.webhooks = vec![hook(&hook_url, Some(&hook_secret))];
    })
    .await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    one_change(&sim, &app).await;
    wait_for(&log, 2, "one refused attempt and its retry").await;
    let got = log.lock().unwrap().clone();
    let (t1, t2) = (verify(&got[0], &secret), verify(&got[1], &secret));
    assert!(t2 > t1, "each attempt has its own timestamp");
    assert_eq!(got[0].id, got[1].id, "one id across retries");
    assert_eq!(got[0].body, got[1].body);
    let id = got[0].id.clone().unwrap();
    assert!(id.starts_with("msg_") && !id.contains('.'), "{id}");
    let body: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(body["events"][0]["type"], "cluster.state_changed");

    // A replay of the captured delivery carries the old timestamp: a receiver refuses it,
    // and moving the timestamp breaks the signature.
    let mut replay = got[0].clone();
    replay.timestamp = Some((t1 + 600).to_string());
    assert!(
        !signed(&replay, &secret),
        "a new timestamp needs a new signature"
    );
    replay.timestamp = got[0].timestamp.clone();
    replay.id = Some("msg_other".into());
    assert!(!signed(&replay, &secret), "so does another id");
    app.stop().await;
    sim.stop().await;
    srv.stop(false).await;
}

#[tokio::test]
async fn a_redirect_is_a_failed_attempt_and_never_followed() {
    let (elsewhere, other, other_srv) = receiver(|_| (204, None)).await;
    let target = elsewhere.clone();
    let (url, log, srv) = receiver(move |_| (307, Some(target.clone()))).await;
    let sim = spawn_sim().await;
    let app = spawn_app_for(&[&sim], move |c: &mut Config| {
        c.notifications.retry_base_ms = 50;
        c.notifications.max_attempts = 3;
        c.notifications.webhooks = vec![hook(&url, None)];
    })
    .await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    one_change(&sim, &app).await;
    wait_for(&log, 3, "three attempts").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(log.lock().unwrap().len(), 3, "given up after max_attempts");
    assert!(
        other.lock().unwrap().is_empty(),
        "the redirect's target got nothing"
    );
    let logs = captured_logs();
    assert!(
        logs.contains("HTTP 307 (redirects are not followed"),
        "the status is logged"
    );
    app.stop().await;
    sim.stop().await;
    srv.stop(false).await;
    other_srv.stop(false).await;
}

#[tokio::test]
async fn a_delivery_pending_at_a_stop_is_sent_after_the_restart_under_the_same_id() {
    let secret = format!("whsec_{}", B64.encode(b"restart-secret-0123456789abcdef!"));
    remember_secret(&secret);
    let (url, log, srv) = receiver(|n| (if n == 1 { 503 } else { 200 }, None)).await;
    let sim = spawn_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("kept.db").display());
    let adjust = |c: &mut Config| {
        c.database.url = db_url.clone();
        // Long enough for the stop to come first.
        c.notifications.retry_base_ms = 3_000;
        c.notifications.webhooks = vec![hook(&url, Some(&secret))];
    };
    let app = spawn_app_for(&[&sim], adjust).await;
    assert_eq!(app.sync("env0").await["outcome"], "success");
    one_change(&sim, &app).await;
    wait_for(&log, 1, "the first attempt").await;
    app.stop().await;
    assert_eq!(log.lock().unwrap().len(), 1, "stopped before the retry");

    let app = spawn_app_for(&[&sim], adjust).await;
    wait_for(&log, 2, "the retry after the restart").await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let got = log.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "delivered once after the restart: {got:?}");
    assert_eq!(got[0].id, got[1].id, "the same webhook-id");
    assert_eq!(got[0].body, got[1].body);
    verify(&got[1], &secret);
    let pending: i64 = sqlx::query_scalar(q("SELECT count(*) FROM webhook_outbox"))
        .fetch_one(&app.mirror().await)
        .await
        .unwrap();
    assert_eq!(pending, 0, "delivered rows leave the outbox");
    app.stop().await;
    sim.stop().await;
    srv.stop(false).await;
}

/// Stores `rows` in the outbox as the notifier would. Each server's own notifier moves the
/// cursor too (it starts it at the newest event), so the compare-and-set is tried again from
/// the cursor it finds, as the notifier itself does.
async fn enqueue_beside_the_notifier(
    db: &spectrocloud_backend::store::Db,
    rows: &[spectrocloud_backend::store::outbox::NewDelivery],
    now_ms: i64,
) {
    use spectrocloud_backend::store::outbox;
    for _ in 0..50 {
        let from = outbox::cursor(db).await.unwrap();
        let done = outbox::enqueue(db, from, from.unwrap_or(0), rows, now_ms, 100)
            .await
            .unwrap();
        if done.moved {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the outbox's cursor never held still for an enqueue");
}

/// Two processes on one database: a row being sent holds the later ones back (oldest first,
/// one at a time), and a sender whose claim lapsed can end only its own claim, never the one
/// that replaced it.
#[tokio::test]
async fn a_lapsed_claim_never_ends_the_claim_that_replaced_it() {
    use spectrocloud_backend::store::outbox::{self, NewDelivery};
    let app = spawn_app().await;
    let db = &app.db;
    let batch = |n: i64| NewDelivery {
        msg_id: format!("msg_{n}"),
        hook: "h".into(),
        body: format!("{{\"n\":{n}}}"),
        events: 1,
    };
    let t0 = 1_000_000;
    enqueue_beside_the_notifier(db, &[batch(1), batch(2)], t0).await;
    // The rows' numbers, as the database gave them.
    let seq = outbox::head(db, "h").await.unwrap().expect("a head").seq;
    // A claim of 50 ms, as the database's clock measures it.
    let first = outbox::claim(db, seq, 50).await.unwrap().expect("claimed");
    // While it is held, nobody else claims the row, and the head is still that row: nobody
    // skips ahead to row 2.
    assert!(outbox::claim(db, seq, 15_000).await.unwrap().is_none());
    let head = outbox::head(db, "h").await.unwrap().expect("a head");
    assert_eq!(
        (head.seq, head.claimed_until),
        (seq, Some(first.claimed_until))
    );
    // The claim lapses; another process takes the row over.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let second = outbox::claim(db, seq, 15_000)
        .await
        .unwrap()
        .expect("taken over");
    assert!(second.claimed_until > first.claimed_until);
    // The first sender's late outcome changes nothing...
    assert!(!outbox::retry_later(db, &first, t0, "late").await.unwrap());
    assert!(!outbox::remove(db, &first).await.unwrap());
    assert!(!outbox::release(db, &first).await.unwrap());
    let head = outbox::head(db, "h").await.unwrap().expect("a head");
    assert_eq!(
        head.claimed_until,
        Some(second.claimed_until),
        "the new claim holds"
    );
    // ...and the holder ends its own.
    assert!(outbox::remove(db, &second).await.unwrap());
    assert_eq!(
        outbox::head(db, "h").await.unwrap().map(|h| h.seq),
        Some(seq + 1)
    );
    app.stop().await;
}

/// Two replicas claiming the same rows at the same moment: each row is won by exactly one.
#[tokio::test]
async fn concurrent_claims_of_two_replicas_win_each_row_once() {
    use spectrocloud_backend::store::outbox::{self, NewDelivery};
    let a = spawn_app().await;
    let b = spawn_app_on(&a, |_| {}).await;
    let rows: Vec<NewDelivery> = (0..20)
        .map(|n| NewDelivery {
            msg_id: format!("msg_race_{n}"),
            hook: "h".into(),
            body: format!("{{\"n\":{n}}}"),
            events: 1,
        })
        .collect();
    enqueue_beside_the_notifier(&a.db, &rows, 0).await;
    let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM webhook_outbox ORDER BY seq")
        .fetch_all(&a.mirror().await)
        .await
        .unwrap();
    assert_eq!(seqs.len(), rows.len());
    for seq in seqs {
        let (x, y) = tokio::join!(
            outbox::claim(&a.db, seq, 15_000),
            outbox::claim(&b.db, seq, 15_000)
        );
        let won = [x.unwrap(), y.unwrap()].iter().flatten().count();
        assert_eq!(won, 1, "row {seq} was claimed {won} times");
    }
    b.stop().await;
    a.stop().await;
}

/// Two replicas on one database, both with the webhook configured: whichever syncs, every event
/// reaches the receiver exactly once (one notifier hands each event over; one sender claims
/// each batch). The receiver refuses the first attempts, so both replicas' senders wake for
/// the same retry at the same moment and contend for it.
#[tokio::test]
async fn two_replicas_deliver_every_event_exactly_once() {
    const REFUSED: usize = 4;
    let (url, log, srv) = receiver_taking(Duration::from_millis(100), |n| {
        (if n <= REFUSED { 503 } else { 200 }, None)
    })
    .await;
    let sim = spawn_sim().await;
    let a = spawn_app_for(&[&sim], move |c: &mut Config| {
        c.notifications.retry_base_ms = 200;
        c.notifications.max_attempts = 20;
        c.notifications.webhooks = vec![hook(&url, None)];
    })
    .await;
    let b = spawn_app_on(&a, |_| {}).await;
    assert_eq!(a.sync("env0").await["outcome"], "success");
    // Changes synced by one replica, then by the other.
    let clusters: Value = json(a.get("/clusters").await).await;
    let flips: Vec<(String, &str)> = clusters["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .take(6)
        .map(|c| {
            let to = if c["status"]["state"] == "Error" {
                "Running"
            } else {
                "Error"
            };
            (c["metadata"]["uid"].as_str().unwrap().to_string(), to)
        })
        .collect();
    for (i, (uid, state)) in flips.iter().enumerate() {
        sim_control(
            &sim,
            Method::POST,
            &format!("/clusters/{uid}/state"),
            Some(json!({ "state": state })),
        )
        .await;
        if i == 2 {
            assert_eq!(a.sync("env0").await["outcome"], "success");
        }
    }
    assert_eq!(b.sync("env0").await["outcome"], "success");

    let db = a.mirror().await;
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM events ORDER BY id")
        .fetch_all(&db)
        .await
        .unwrap();
    assert!(ids.len() >= flips.len(), "one event per change: {ids:?}");
    // The batches the receiver accepted (it refused the first `REFUSED` requests).
    let accepted = || -> Vec<Got> { log.lock().unwrap().iter().skip(REFUSED).cloned().collect() };
    let events_of = |got: &[Got]| -> Vec<i64> {
        let mut ids: Vec<i64> = got
            .iter()
            .flat_map(|g| {
                let body: Value = serde_json::from_slice(&g.body).unwrap();
                body["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_i64().unwrap())
                    .collect::<Vec<_>>()
            })
            .collect();
        ids.sort_unstable();
        ids
    };
    for _ in 0..300 {
        if events_of(&accepted()).len() >= ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Time for a second delivery of anything, were there one.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let got = accepted();
    assert_eq!(events_of(&got), ids, "every event once, none twice");
    let mut msg_ids: Vec<_> = got.iter().map(|g| g.id.clone().unwrap()).collect();
    msg_ids.sort();
    msg_ids.dedup();
    assert_eq!(msg_ids.len(), got.len(), "no batch accepted twice");
    b.stop().await;
    a.stop().await;
    sim.stop().await;
    srv.stop(false).await;
}
