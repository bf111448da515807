//! Webhook deliveries, as the Standard Webhooks convention has them
//! (<https://www.standardwebhooks.com/>): each batch has a `webhook-id` that stays the same
//! across retries and restarts, each attempt a `webhook-timestamp`, and `webhook-signature`
//! is `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, so a receiver can refuse a
//! replayed or altered delivery. Batches wait in the database (the outbox) until delivered
//! or given up; redirects are never followed.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::{NotificationsConfig, WebhookConfig};
use crate::store::Db;
use crate::store::outbox;

/// One delivery attempt may take this long.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// A claim outlives an attempt: a process that died mid-attempt frees its row after this.
const CLAIM_MS: i64 = 15_000;
/// How often a delivery task looks at the outbox without being woken.
const POLL: Duration = Duration::from_secs(1);

/// Deprecated: `sha256=<hex HMAC-SHA256 of the body>`, sent beside the Standard Webhooks
/// headers for receivers written before them. It covers neither id nor time: a replay passes.
pub const LEGACY_SIGNATURE_HEADER: &str = "x-spectrocloud-signature";
/// The secret prefix of the Standard Webhooks convention: base64 of the key follows.
pub const SECRET_PREFIX: &str = "whsec_";

/// The HMAC key of a configured secret: `whsec_<base64>` is decoded as the convention says;
/// any other string is used as its own bytes (secrets configured before the convention).
pub fn signing_key(secret: &str) -> Result<Vec<u8>, base64::DecodeError> {
    match secret.strip_prefix(SECRET_PREFIX) {
        Some(b64) => B64.decode(b64),
        None => Ok(secret.as_bytes().to_vec()),
    }
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key"))
}

/// `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut m = mac(key);
    m.update(format!("{msg_id}.{timestamp}.").as_bytes());
    m.update(body);
    format!("v1,{}", B64.encode(m.finalize().into_bytes()))
}

/// The deprecated `X-SpectroCloud-Signature`: `sha256=<hex>` of `body` alone.
pub fn legacy_signature(key: &[u8], body: &[u8]) -> String {
    let mut m = mac(key);
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

/// A new `webhook-id`: 128 random bits, no `.` (the signed content is split on dots).
pub fn new_msg_id() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    format!("msg_{}", hex::encode(bytes))
}

/// Each webhook's key in the outbox: its URL's SHA-256 (a URL configured twice gets `#2`,
/// `#3`...), so reordering the configuration keeps pending batches with their endpoint.
pub fn hook_keys(hooks: &[WebhookConfig]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::with_capacity(hooks.len());
    for h in hooks {
        let base = hex::encode(Sha256::digest(h.url.as_bytes()));
        let seen = keys
            .iter()
            .filter(|k| k.split('#').next() == Some(base.as_str()))
            .count();
        keys.push(if seen == 0 {
            base
        } else {
            format!("{base}#{}", seen + 1)
        });
    }
    keys
}

/// Delay before retry `n` (1-based): base, 2×base, 4×base, ... capped at a minute.
pub fn backoff(base_ms: u64, retry: u32) -> Duration {
    let factor = 1u64 << retry.saturating_sub(1).min(16);
    Duration::from_millis(base_ms.saturating_mul(factor).min(60_000))
}

/// What becomes of a row after an attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Delivered,
    /// Try again at this time (unix ms).
    Retry(i64),
    GiveUp,
}

/// The pure decision after an attempt: `failed_before` earlier failures of this row.
pub fn after_attempt(
    failed_before: i64,
    ok: bool,
    max_attempts: u32,
    retry_base_ms: u64,
    now_ms: i64,
) -> Step {
    if ok {
        return Step::Delivered;
    }
    let failures = failed_before.saturating_add(1);
    if failures >= i64::from(max_attempts) {
        return Step::GiveUp;
    }
    let retry = u32::try_from(failures).unwrap_or(u32::MAX);
    let wait = i64::try_from(backoff(retry_base_ms, retry).as_millis()).unwrap_or(60_000);
    Step::Retry(now_ms.saturating_add(wait))
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// What a sender found in the outbox.
enum Next {
    Claimed(outbox::Delivery),
    DueIn(Duration),
    Nothing,
}

/// One webhook's sender: takes its oldest due row, sends it, records the outcome.
pub struct Sender {
    index: usize,
    key: String,
    hook: WebhookConfig,
    signing: Option<Vec<u8>>,
    http: reqwest::Client,
    retry_base_ms: u64,
    max_attempts: u32,
    db: Db,
    pub wake: Arc<Notify>,
}

impl Sender {
    pub fn new(
        db: &Db,
        index: usize,
        key: String,
        hook: WebhookConfig,
        n: &NotificationsConfig,
    ) -> Option<Sender> {
        // Never follow a redirect: a 3xx is a failed attempt, so a receiver cannot bounce
        // signed bodies to another host or loop one batch into many posts. Without that
        // client there is no sender (a default client would follow redirects).
        let http = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .inspect_err(|e| tracing::error!(webhook = index, error = %e, "cannot build the webhook's HTTP client; this webhook gets no deliveries until a restart"))
            .ok()?;
        let signing = hook
            .secret
            .as_ref()
            .filter(|s| !s.is_empty())
            .and_then(|s| signing_key(s.expose()).ok());
        Some(Sender {
            index,
            key,
            hook,
            signing,
            http,
            retry_base_ms: n.retry_base_ms,
            max_attempts: n.max_attempts,
            db: db.clone(),
            wake: Arc::new(Notify::new()),
        })
    }

    /// The endpoint as logs may show it: scheme and host only (paths and queries of webhook
    /// URLs often carry tokens).
    fn shown(&self) -> String {
        url::Url::parse(&self.hook.url)
            .ok()
            .map(|u| format!("{}://{}", u.scheme(), u.host_str().unwrap_or("?")))
            .unwrap_or_else(|| "?".into())
    }

    pub async fn run(self, stop: CancellationToken) {
        loop {
            let wait = match self.next().await {
                Ok(Next::Claimed(row)) => {
                    if !self.attempt(row, &stop).await {
                        return;
                    }
                    continue;
                }
                Ok(Next::DueIn(wait)) => wait.min(POLL),
                Ok(Next::Nothing) => POLL,
                Err(e) => {
                    tracing::warn!(webhook = self.index, error = %e, "cannot read the webhook outbox");
                    POLL
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// The oldest row of this webhook, claimed when it is due and this process won it.
    async fn next(&self) -> Result<Next, sqlx::Error> {
        let now = now_ms();
        let Some(head) = outbox::head(&self.db, &self.key).await? else {
            return Ok(Next::Nothing);
        };
        // Another process is sending it: look again when its claim lapses (by this host's
        // clock: the claim itself is decided on the database's).
        if let Some(until) = head.claimed_until.filter(|u| *u >= now) {
            let ms = u64::try_from(until - now + 1).unwrap_or(0);
            return Ok(Next::DueIn(Duration::from_millis(ms)));
        }
        // Oldest first: a batch waiting for its retry holds the later ones back.
        if head.next_attempt_at > now {
            let ms = u64::try_from(head.next_attempt_at - now).unwrap_or(0);
            return Ok(Next::DueIn(Duration::from_millis(ms)));
        }
        Ok(match outbox::claim(&self.db, head.seq, CLAIM_MS).await? {
            Some(row) => Next::Claimed(row),
            // Another process claimed it first.
            None => Next::Nothing,
        })
    }

    /// Sends one claimed row and records the outcome; false when stopped meanwhile.
    async fn attempt(&self, row: outbox::Delivery, stop: &CancellationToken) -> bool {
        let outcome = tokio::select! {
            _ = stop.cancelled() => {
                if let Err(e) = outbox::release(&self.db, &row).await {
                    tracing::warn!(webhook = self.index, error = %e, "cannot release a webhook delivery");
                }
                return false;
            }
            o = self.send(&row) => o,
        };
        let step = after_attempt(
            row.attempts,
            outcome.is_ok(),
            self.max_attempts,
            self.retry_base_ms,
            now_ms(),
        );
        self.record(&row, step, outcome.err()).await;
        true
    }

    async fn record(&self, row: &outbox::Delivery, step: Step, error: Option<String>) {
        let webhook = self.index.to_string();
        let attempt = row.attempts + 1;
        let (id, events) = (&row.msg_id, row.events);
        if let Some(why) = &error {
            metrics::counter!("spectrocloud_webhook_attempt_failures_total", "webhook" => webhook.clone()).increment(1);
            tracing::warn!(webhook = self.index, endpoint = %self.shown(), webhook_id = %id, attempt, error = %why, "webhook delivery failed");
        }
        let written = match step {
            Step::Delivered => {
                metrics::counter!("spectrocloud_webhook_deliveries_total", "webhook" => webhook, "outcome" => "success").increment(1);
                tracing::debug!(webhook = self.index, webhook_id = %id, events, attempt, "events delivered");
                outbox::remove(&self.db, row).await
            }
            Step::GiveUp => {
                metrics::counter!("spectrocloud_webhook_deliveries_total", "webhook" => webhook, "outcome" => "failed").increment(1);
                tracing::error!(webhook = self.index, endpoint = %self.shown(), webhook_id = %id, events, attempts = attempt, "webhook delivery given up");
                outbox::remove(&self.db, row).await
            }
            Step::Retry(at) => {
                let why = error.unwrap_or_default();
                outbox::retry_later(&self.db, row, at, &why).await
            }
        };
        match written {
            Ok(true) => {}
            // Our claim lapsed (a slow attempt or writer) and another sender holds the row now.
            Ok(false) => {
                tracing::warn!(webhook = self.index, webhook_id = %id, "a webhook delivery's claim lapsed during its attempt; the row is left to its new holder")
            }
            Err(e) => {
                tracing::warn!(webhook = self.index, webhook_id = %id, error = %e, "cannot record a webhook delivery's outcome")
            }
        }
    }

    /// One POST; `Err` says why it failed (a status, `timeout`, `unreachable`).
    async fn send(&self, row: &outbox::Delivery) -> Result<(), String> {
        let body = row.body.as_bytes();
        let timestamp = chrono::Utc::now().timestamp();
        let mut req = self
            .http
            .post(&self.hook.url)
            .header("content-type", "application/json")
            .header("webhook-id", &row.msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .body(row.body.clone());
        if let Some(key) = &self.signing {
            req = req
                .header("webhook-signature", sign(key, &row.msg_id, timestamp, body))
                .header(LEGACY_SIGNATURE_HEADER, legacy_signature(key, body));
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) if r.status().is_redirection() => Err(format!(
                "HTTP {} (redirects are not followed: configure the final URL)",
                r.status().as_u16()
            )),
            Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
            Err(e) if e.is_timeout() => Err("timeout".into()),
            Err(_) => Err("unreachable".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            legacy_signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signature_covers_id_timestamp_and_body() {
        // The Standard Webhooks reference libraries' test vector.
        let key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_ne!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body),
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        );
        // A secret without the prefix is its own bytes.
        assert_eq!(signing_key("plain").unwrap(), b"plain");
        assert!(signing_key("whsec_not base64!").is_err());
    }

    #[test]
    fn ids_are_random_and_dot_free() {
        let (a, b) = (new_msg_id(), new_msg_id());
        assert_ne!(a, b);
        assert!(a.starts_with("msg_") && a.len() == 36 && !a.contains('.'));
    }

    #[test]
    fn a_url_configured_twice_gets_two_keys() {
        let hook = |url: &str| WebhookConfig {
            url: url.into(),
            types: vec![],
            secret: None,
        };
        let keys = hook_keys(&[hook("http://a/x"), hook("http://b/y"), hook("http://a/x")]);
        assert_eq!(keys[0].len(), 64);
        assert_ne!(keys[0], keys[1]);
        assert_eq!(keys[2], format!("{}#2", keys[0]));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1000, 1), Duration::from_secs(1));
        assert_eq!(backoff(1000, 2), Duration::from_secs(2));
        assert_eq!(backoff(1000, 4), Duration::from_secs(8));
        assert_eq!(backoff(1000, 30), Duration::from_secs(60));
    }

    #[test]
    fn attempts_end_in_delivery_retry_or_giving_up() {
        assert_eq!(after_attempt(0, true, 3, 100, 5), Step::Delivered);
        assert_eq!(after_attempt(0, false, 3, 100, 5), Step::Retry(105));
        assert_eq!(after_attempt(1, false, 3, 100, 5), Step::Retry(205));
        assert_eq!(after_attempt(2, false, 3, 100, 5), Step::GiveUp);
        assert_eq!(after_attempt(0, false, 1, 100, 5), Step::GiveUp);
    }
}
