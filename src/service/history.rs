//! Background upkeep of the change history: a notifier tails new events (written by the sync's
//! own transactions), counts them per type for Prometheus and hands them to the webhooks; the
//! daily fleet aggregates are refreshed and old history is pruned. Nothing here is on the
//! sync's path: a slow or failing webhook can never hold a sync up.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, NotificationsConfig, WebhookConfig};
use crate::store::Db;
use crate::store::events::{self, Event};

/// How often new events are looked for.
const TAIL_EVERY: Duration = Duration::from_secs(1);
/// Events read per look.
const TAIL_BATCH: i64 = 500;
/// How often the daily aggregates are refreshed and old history pruned.
const UPKEEP_EVERY: Duration = Duration::from_secs(300);
/// Batches waiting per webhook; beyond it new batches are dropped (and counted), so a dead
/// endpoint cannot grow memory.
const QUEUE: usize = 256;
/// One delivery attempt may take this long.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "x-spectrocloud-signature";

/// Starts the notifier, one delivery task per webhook and the upkeep; all stop on `shutdown`.
pub async fn start(db: &Db, config: &Config, shutdown: &CancellationToken) -> Vec<JoinHandle<()>> {
    let mut workers = Vec::new();
    let mut hooks = Vec::new();
    for (i, hook) in config.notifications.webhooks.iter().enumerate() {
        let (tx, rx) = mpsc::channel(QUEUE);
        let delivery = Delivery::new(i, hook.clone(), &config.notifications);
        workers.push(tokio::spawn(delivery.run(rx, shutdown.clone())));
        hooks.push((i, hook.types.clone(), tx));
    }
    let start = match events::last_id(db).await {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the last event id; notifying from the start");
            0
        }
    };
    workers.push(tokio::spawn(notify(
        db.clone(),
        start,
        hooks,
        shutdown.clone(),
    )));
    let envs: Vec<String> = config.environments.iter().map(|e| e.name.clone()).collect();
    let retention = Retention {
        history_days: config.history.retention_days,
        audit_days: config.audit.retention_days,
    };
    workers.push(tokio::spawn(upkeep(
        db.clone(),
        envs,
        retention,
        shutdown.clone(),
    )));
    workers
}

type Hook = (usize, Vec<String>, mpsc::Sender<Vec<Event>>);

async fn notify(db: Db, mut cursor: i64, hooks: Vec<Hook>, stop: CancellationToken) {
    let mut every = tokio::time::interval(TAIL_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        loop {
            let batch = match events::after(&db, cursor, TAIL_BATCH).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read new events");
                    break;
                }
            };
            let Some(last) = batch.last() else { break };
            cursor = last.id;
            for e in &batch {
                metrics::counter!("spectrocloud_events_total", "env" => e.environment.clone(), "type" => e.event_type.clone())
                    .increment(1);
            }
            for (i, types, tx) in &hooks {
                let wanted = selected(&batch, types);
                if !wanted.is_empty() && tx.try_send(wanted).is_err() {
                    metrics::counter!("spectrocloud_webhook_dropped_total", "webhook" => i.to_string()).increment(1);
                    tracing::warn!(webhook = i, "webhook queue full; events dropped for it");
                }
            }
            if (batch.len() as i64) < TAIL_BATCH {
                break;
            }
        }
    }
}

/// The events a webhook asked for (`types` empty = all).
fn selected(batch: &[Event], types: &[String]) -> Vec<Event> {
    batch
        .iter()
        .filter(|e| types.is_empty() || types.contains(&e.event_type))
        .cloned()
        .collect()
}

/// `sha256=<hex>` of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delay before attempt `n` (1-based retries): base, 2×base, 4×base, ... capped at a minute.
pub fn backoff(base_ms: u64, retry: u32) -> Duration {
    let factor = 1u64 << retry.saturating_sub(1).min(16);
    Duration::from_millis(base_ms.saturating_mul(factor).min(60_000))
}

struct Delivery {
    index: usize,
    hook: WebhookConfig,
    http: reqwest::Client,
    retry_base_ms: u64,
    max_attempts: u32,
}

impl Delivery {
    fn new(index: usize, hook: WebhookConfig, n: &NotificationsConfig) -> Delivery {
        let http = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .build()
            .unwrap_or_default();
        Delivery {
            index,
            hook,
            http,
            retry_base_ms: n.retry_base_ms,
            max_attempts: n.max_attempts,
        }
    }

    /// The endpoint as logs may show it: scheme, host and port only (paths and queries of
    /// webhook URLs often carry tokens).
    fn shown(&self) -> String {
        url::Url::parse(&self.hook.url)
            .ok()
            .map(|u| format!("{}://{}", u.scheme(), u.host_str().unwrap_or("?")))
            .unwrap_or_else(|| "?".into())
    }

    async fn run(self, mut rx: mpsc::Receiver<Vec<Event>>, stop: CancellationToken) {
        loop {
            let batch = tokio::select! {
                _ = stop.cancelled() => return,
                b = rx.recv() => match b { Some(b) => b, None => return },
            };
            let body = match serde_json::to_vec(&serde_json::json!({ "events": batch })) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(webhook = self.index, error = %e, "cannot encode events");
                    continue;
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.deliver(&body, batch.len()) => {}
            }
        }
    }

    /// Attempts one delivery up to `max_attempts` times with back-off; then gives it up.
    async fn deliver(&self, body: &[u8], events: usize) {
        let webhook = self.index.to_string();
        for attempt in 1..=self.max_attempts {
            if attempt > 1 {
                tokio::time::sleep(backoff(self.retry_base_ms, attempt - 1)).await;
            }
            let mut req = self
                .http
                .post(&self.hook.url)
                .header("content-type", "application/json")
                .body(body.to_vec());
            if let Some(secret) = self.hook.secret.as_ref().filter(|s| !s.is_empty()) {
                req = req.header(
                    SIGNATURE_HEADER,
                    signature(secret.expose().as_bytes(), body),
                );
            }
            let outcome = match req.send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
                Err(e) => Err(if e.is_timeout() {
                    "timeout".into()
                } else {
                    "unreachable".into()
                }),
            };
            match outcome {
                Ok(()) => {
                    metrics::counter!("spectrocloud_webhook_deliveries_total", "webhook" => webhook.clone(), "outcome" => "success").increment(1);
                    tracing::debug!(webhook = self.index, events, attempt, "events delivered");
                    return;
                }
                Err(why) => {
                    metrics::counter!("spectrocloud_webhook_attempt_failures_total", "webhook" => webhook.clone()).increment(1);
                    tracing::warn!(webhook = self.index, endpoint = %self.shown(), attempt, error = %why, "webhook delivery failed");
                }
            }
        }
        metrics::counter!("spectrocloud_webhook_deliveries_total", "webhook" => webhook, "outcome" => "failed").increment(1);
        tracing::error!(webhook = self.index, endpoint = %self.shown(), events, attempts = self.max_attempts, "webhook delivery given up");
    }
}

/// How long history and audit entries are kept.
struct Retention {
    history_days: u32,
    audit_days: u32,
}

/// Refreshes today's aggregates of every environment and prunes what is past retention: old
/// history, and the audit log's old entries.
async fn upkeep(db: Db, envs: Vec<String>, retention: Retention, stop: CancellationToken) {
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        let now = chrono::Utc::now();
        let today = now.date_naive().to_string();
        for env in &envs {
            if let Err(e) = events::record_day(&db, env, &today).await {
                tracing::warn!(env, error = %e, "cannot record the daily fleet aggregates");
            }
        }
        let cutoff = now - chrono::Duration::days(i64::from(retention.history_days));
        let at = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        match events::prune(&db, &at, &cutoff.date_naive().to_string()).await {
            Ok(n) if n > 0 => tracing::info!(pruned = n, "old events pruned"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot prune old events"),
        }
        match crate::auth::audit::prune(&db, retention.audit_days).await {
            Ok(n) if n > 0 => tracing::info!(pruned = n, "old audit entries pruned"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot prune the audit log"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1000, 1), Duration::from_secs(1));
        assert_eq!(backoff(1000, 2), Duration::from_secs(2));
        assert_eq!(backoff(1000, 4), Duration::from_secs(8));
        assert_eq!(backoff(1000, 30), Duration::from_secs(60));
    }
}
