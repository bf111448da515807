//! The Palette REST client, one per environment: connection pooling, `ApiKey` or bare
//! `Authorization` credentials, `ProjectUid` scope, timeouts, pacing per rate-limit prefix
//! (`pacing.rs`: a 429 slows the prefix down and the call waits its turn again), retries with
//! exponential back-off and jitter on 5xx and connection failures, a concurrency limit for the
//! sync's calls, one overall deadline per call, and pagination with `?continue=` in the query.
//! No credential ever reaches a log line or an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::Instrument;

use super::PaletteError;
use super::pacing::{Pacer, Party, Priority, Refused};
use crate::config::{EnvironmentConfig, Secret, SyncConfig};

/// Guards against a Palette that keeps handing out continue tokens (before any `count`).
const MAX_PAGES: usize = 10_000;
/// Pages allowed beyond what `listmeta.count` and the page size call for: `count` drifts
/// while objects come and go during paging.
const EXTRA_PAGES: usize = 2;
/// Of an error answer, only this much is read: its message is all the service uses.
const MAX_ERROR_BYTES: u64 = 64 * 1024;
/// Longest wait a `Retry-After` header may impose.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct PaletteClient {
    inner: Arc<Inner>,
}

struct Inner {
    env: String,
    /// The application's metrics label (see `recorder`).
    app: String,
    base: String,
    api_key: Secret,
    http: reqwest::Client,
    /// In-flight sync calls; people's calls are bounded by the pacing alone.
    limiter: Semaphore,
    pacer: Pacer,
    /// Overall deadline of a person's call, waiting included.
    interactive_deadline: Duration,
    /// Overall deadline of a sync call without its own (the run's timeout bounds it anyway).
    background_deadline: Duration,
    retries: u32,
    retry_base: Duration,
    page_size: u32,
    /// Size caps of an answer: a listing page, anything else.
    max_listing_bytes: u64,
    max_object_bytes: u64,
    /// Every request sent (attempts included), for metrics.
    calls: AtomicU64,
}

/// Which credential a call uses.
#[derive(Clone, Copy)]
pub enum Credential<'a> {
    /// The environment's API key (`ApiKey` header).
    ApiKey,
    /// A Palette user session token (bare `Authorization` header, no `Bearer `).
    User(&'a str),
}

/// Retry behaviour of a call.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Retries {
    /// `sync.max_retries` on 429, 5xx, timeouts and connection errors.
    Full,
    /// A caller is waiting: one retry, and only on 429 or a connection failure.
    Interactive,
    /// Never repeat (non-idempotent writes).
    None,
}

/// One request to Palette, built with [`PaletteClient::request`].
#[derive(Clone)]
pub struct Call<'a> {
    client: &'a PaletteClient,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
    project: Option<&'a str>,
    credential: Credential<'a>,
    counter: Option<&'a AtomicU64>,
    retries: Retries,
    priority: Option<Priority>,
    /// Whose fair share of the budget a person's call counts against.
    party: Option<Party>,
    deadline: Option<Instant>,
    raw: bool,
    /// A listing: read with `sync.max_listing_bytes` instead of `sync.max_object_bytes`.
    listing: bool,
}

/// A successful answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self, path: &str) -> Result<Value, PaletteError> {
        serde_json::from_slice(&self.body).map_err(|e| PaletteError::Decode {
            path: path.to_string(),
            message: e.to_string(),
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Everything a paginated listing returned.
#[derive(Debug, Default)]
pub struct Listing {
    pub items: Vec<Value>,
    pub pages: usize,
    /// False when Palette's `count` changed between pages or differs from the distinct objects
    /// received, i.e. objects came, went or moved while paging: such a listing must not be used
    /// to delete anything.
    pub complete: bool,
}

impl PaletteClient {
    pub fn new(
        env: &EnvironmentConfig,
        sync: &SyncConfig,
        app: &str,
    ) -> Result<PaletteClient, PaletteError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(sync.request_timeout_seconds))
            .connect_timeout(Duration::from_secs(sync.request_timeout_seconds.min(10)))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("spectrocloud-backend/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PaletteError::Unreachable {
                path: String::new(),
                message: format!("cannot build HTTP client: {e}"),
            })?;
        Ok(PaletteClient {
            inner: Arc::new(Inner {
                env: env.name.clone(),
                app: app.to_string(),
                base: env.url.trim_end_matches('/').to_string(),
                api_key: env.api_token.clone(),
                http,
                limiter: Semaphore::new(sync.concurrency.max(1)),
                pacer: Pacer::new(env.rate_limits.clone()),
                interactive_deadline: Duration::from_secs(
                    env.rate_limits.interactive_deadline_seconds.max(1),
                ),
                background_deadline: Duration::from_secs(sync.run_timeout_seconds.max(1)),
                retries: sync.max_retries,
                retry_base: Duration::from_millis(sync.retry_base_ms.max(1)),
                page_size: sync.page_size.clamp(1, 50),
                max_listing_bytes: sync.max_listing_bytes.max(1),
                max_object_bytes: sync.max_object_bytes.max(1),
                calls: AtomicU64::new(0),
            }),
        })
    }

    pub fn env(&self) -> &str {
        &self.inner.env
    }

    pub fn page_size(&self) -> u32 {
        self.inner.page_size
    }

    /// Requests sent since start (every attempt counts).
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// The pacing of this environment's calls (429s and current rate per prefix).
    pub fn pacer(&self) -> &Pacer {
        &self.inner.pacer
    }

    pub fn request(&self, method: Method, path: impl Into<String>) -> Call<'_> {
        Call {
            client: self,
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            project: None,
            credential: Credential::ApiKey,
            counter: None,
            retries: Retries::Full,
            priority: None,
            party: None,
            deadline: None,
            raw: false,
            listing: false,
        }
    }

    pub fn get(&self, path: impl Into<String>) -> Call<'_> {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: impl Into<String>) -> Call<'_> {
        self.request(Method::POST, path)
    }
}

impl<'a> Call<'a> {
    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_string(), value.into()));
        self
    }
    pub fn json_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    /// Project scope (`ProjectUid` header); `None` = tenant scope.
    pub fn project(mut self, project: Option<&'a str>) -> Self {
        self.project = project;
        self
    }
    pub fn credential(mut self, credential: Credential<'a>) -> Self {
        self.credential = credential;
        self
    }
    /// Also count attempts into `counter` (a sync run's API-call figure).
    pub fn counted(mut self, counter: &'a AtomicU64) -> Self {
        self.counter = Some(counter);
        self
    }
    pub fn retries(mut self, retries: Retries) -> Self {
        self.retries = retries;
        self
    }
    /// Who waits for this call. Default: the sync (`Background`) for `Retries::Full`, a person
    /// (`Interactive`) otherwise.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = Some(priority);
        self
    }
    /// Whose fair share of the prefix's budget this call counts against (people's calls).
    pub fn party(mut self, party: Party) -> Self {
        self.party = Some(party);
        self
    }
    /// The call gives up at `deadline`, waiting for its turn included. Default: the
    /// environment's `interactive_deadline_seconds` for people, `sync.run_timeout_seconds`
    /// for the sync.
    pub fn deadline(mut self, deadline: impl Into<Instant>) -> Self {
        self.deadline = Some(deadline.into());
        self
    }
    fn effective_priority(&self) -> Priority {
        self.priority.unwrap_or(match self.retries {
            Retries::Full => Priority::Background,
            Retries::Interactive | Retries::None => Priority::Interactive,
        })
    }
    /// No JSON `Accept`/`Content-Type` headers (kubeconfig downloads).
    pub fn raw(mut self) -> Self {
        self.raw = true;
        self
    }

    /// A list call: the answer may be as large as `sync.max_listing_bytes`.
    pub fn listing(mut self) -> Self {
        self.listing = true;
        self
    }

    /// `GET /v1/overlords`: how the call is named in errors (no query, no credential).
    pub fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The size cap of this call's answer, and the setting that sets it.
    fn cap(&self) -> (u64, &'static str) {
        let inner = &self.client.inner;
        if self.listing {
            (inner.max_listing_bytes, "max_listing_bytes")
        } else {
            (inner.max_object_bytes, "max_object_bytes")
        }
    }

    /// The secrets this call sends, which Palette text repeated by the service must not carry.
    fn secrets(&self) -> [&str; 2] {
        let token = match self.credential {
            Credential::User(t) => t,
            Credential::ApiKey => "",
        };
        [self.client.inner.api_key.expose(), token]
    }

    /// Sends a non-paginated list call; its items, or `Untrusted` when the answer is not a
    /// list (see [`list_items`]).
    pub async fn items(self) -> Result<Vec<Value>, PaletteError> {
        let call = self.listing();
        let name = call.name();
        list_items(&name, call.json().await?)
    }

    /// Sends with retries; JSON answer.
    pub async fn json(self) -> Result<Value, PaletteError> {
        let path = self.path.clone();
        self.send().await?.json(&path)
    }

    /// Sends with retries; JSON answer, or `None` when Palette has no such resource (404).
    pub async fn json_if_found(self) -> Result<Option<Value>, PaletteError> {
        match self.json().await {
            Ok(v) => Ok(Some(v)),
            Err(PaletteError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends with retries; one Palette object, `None` when Palette has no such resource
    /// (404). Any other JSON (a number, a list, `null`) is `Untrusted`, never stored.
    pub async fn object_if_found(self) -> Result<Option<Value>, PaletteError> {
        let name = self.name();
        match self.json_if_found().await? {
            Some(other) if !other.is_object() => {
                let found = kind_of(&other);
                Err(untrusted(
                    &name,
                    format!("{found} where an object was expected"),
                ))
            }
            found => Ok(found),
        }
    }

    /// Sends with pacing and retries; any 2xx answer. A 429 is back-pressure: the prefix
    /// slows down and the call waits its turn again until its deadline (except `Retries::None`).
    pub async fn send(self) -> Result<Answer, PaletteError> {
        let inner = &self.client.inner;
        let priority = self.effective_priority();
        let deadline = self.deadline.unwrap_or_else(|| {
            Instant::now()
                + match priority {
                    Priority::Interactive => inner.interactive_deadline,
                    Priority::Background => inner.background_deadline,
                }
        });
        let span = tracing::debug_span!(
            "palette_call",
            env = %inner.env,
            method = %self.method,
            path = %self.path,
            project = self.project.unwrap_or("-"),
            priority = ?priority,
            status = tracing::field::Empty,
            attempts = tracing::field::Empty,
            throttled = tracing::field::Empty,
        );
        async {
            let (result, attempts, throttled) = self.paced(priority, deadline).await;
            let span = tracing::Span::current();
            span.record("attempts", attempts);
            span.record("throttled", throttled);
            match &result {
                Ok(a) => span.record("status", a.status.as_u16()),
                Err(e) => span.record("status", tracing::field::display(e)),
            };
            result
        }
        .instrument(span)
        .await
    }

    /// The attempts of one call: (outcome, attempts, 429s received).
    async fn paced(
        &self,
        priority: Priority,
        deadline: Instant,
    ) -> (Result<Answer, PaletteError>, u32, u32) {
        let inner = &self.client.inner;
        let max_retries = match self.retries {
            Retries::Full => inner.retries,
            Retries::Interactive => inner.retries.min(1),
            Retries::None => 0,
        };
        let (prefix, bucket) = inner.pacer.bucket(&self.path);
        let too_late = || PaletteError::Throttled {
            path: self.path.clone(),
            retry_after: None,
        };
        let (mut failures, mut throttled) = (0u32, 0u32);
        loop {
            match bucket
                .acquire(priority, self.party.as_ref(), Some(deadline))
                .await
            {
                Ok(()) => {}
                Err(Refused::TooLate) => {
                    return (Err(too_late()), failures + throttled, throttled);
                }
                Err(Refused::OverShare {
                    waiting,
                    retry_after,
                }) => {
                    let refused = PaletteError::OverShare {
                        prefix: prefix.clone(),
                        waiting,
                        retry_after: retry_after.as_secs_f64().ceil().max(1.0) as u64,
                    };
                    return (Err(refused), failures + throttled, throttled);
                }
            }
            let started = Instant::now();
            let result = match tokio::time::timeout_at(deadline, self.attempt(priority)).await {
                Ok(r) => r,
                Err(_) => Err(PaletteError::Timeout {
                    path: self.path.clone(),
                }),
            };
            super::record_call(&inner.app, &inner.env, &prefix, &result, started.elapsed());
            let wait = match &result {
                Ok(_) => return (result, failures + throttled + 1, throttled),
                Err(PaletteError::Throttled { retry_after, .. }) if self.may_retry_throttled() => {
                    throttled += 1;
                    bucket.throttled();
                    // The bucket's pause paces the retry; a Retry-After asks for longer.
                    retry_after
                        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER))
                        .unwrap_or(Duration::ZERO)
                }
                Err(PaletteError::Throttled { .. }) => {
                    bucket.throttled();
                    return (result, failures + throttled + 1, throttled + 1);
                }
                Err(e) if failures < max_retries && self.may_retry(e) => {
                    failures += 1;
                    backoff(inner.retry_base, failures)
                }
                Err(_) => return (result, failures + throttled + 1, throttled),
            };
            if Instant::now() + wait > deadline {
                return (result, failures + throttled, throttled);
            }
            if let Err(e) = &result {
                tracing::debug!(error = %e, wait_ms = wait.as_millis() as u64, failures, throttled,
                    "retrying Palette call");
            }
            tokio::time::sleep(wait).await;
        }
    }

    fn may_retry_throttled(&self) -> bool {
        self.retries != Retries::None
    }

    fn may_retry(&self, e: &PaletteError) -> bool {
        match self.retries {
            Retries::None => false,
            Retries::Full => e.is_retryable(),
            Retries::Interactive => matches!(
                e,
                PaletteError::Throttled { .. } | PaletteError::Unreachable { .. }
            ),
        }
    }

    async fn attempt(&self, priority: Priority) -> Result<Answer, PaletteError> {
        let inner = &self.client.inner;
        // People's calls never queue behind the sync's in-flight ones.
        let _permit = match priority {
            Priority::Background => {
                Some(
                    inner
                        .limiter
                        .acquire()
                        .await
                        .map_err(|_| PaletteError::Unreachable {
                            path: self.path.clone(),
                            message: "client is shutting down".into(),
                        })?,
                )
            }
            Priority::Interactive => None,
        };
        inner.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(c) = self.counter {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let url = format!("{}{}", inner.base, self.path);
        let mut req = inner.http.request(self.method.clone(), url);
        if !self.query.is_empty() {
            req = req.query(&self.query);
        }
        if !self.raw {
            req = req
                .header(ACCEPT, HeaderValue::from_static("application/json"))
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        req = match self.credential {
            Credential::ApiKey => req.header("ApiKey", sensitive(inner.api_key.expose())?),
            Credential::User(token) => req.header("Authorization", sensitive(token)?),
        };
        if let Some(p) = self.project {
            req = req.header("ProjectUid", p);
        }
        if let Some(b) = &self.body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| transport_error(&inner.base, &self.path, e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        if status.is_success() {
            let body = self.read_capped(resp).await?;
            return Ok(Answer {
                status,
                headers,
                body,
            });
        }
        let body = read_prefix(resp, MAX_ERROR_BYTES).await;
        Err(status_error(
            &self.path,
            status,
            &headers,
            &body,
            &self.secrets(),
        ))
    }

    /// The body, chunk by chunk, failing as soon as it passes the cap: a huge or endless
    /// answer never sits in memory whole.
    async fn read_capped(&self, mut resp: reqwest::Response) -> Result<Vec<u8>, PaletteError> {
        let (cap, setting) = self.cap();
        let too_large = || PaletteError::TooLarge {
            call: self.name(),
            limit: cap,
            setting,
        };
        if resp.content_length().is_some_and(|n| n > cap) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| transport_error(&self.client.inner.base, &self.path, e))?
        {
            if body.len() as u64 + chunk.len() as u64 > cap {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// At most `cap` bytes of an error answer (a transport failure leaves what arrived).
async fn read_prefix(mut resp: reqwest::Response, cap: u64) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = (cap as usize).saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() as u64 >= cap {
            break;
        }
    }
    body
}

/// Header values carrying credentials are marked sensitive so no debug output shows them.
fn sensitive(value: &str) -> Result<HeaderValue, PaletteError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| PaletteError::Unauthorized {
        path: String::new(),
        message: "the credential contains characters not allowed in a header".into(),
    })?;
    v.set_sensitive(true);
    Ok(v)
}

fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(6));
    let capped = exp.min(Duration::from_secs(10));
    // Full jitter between half and the whole delay keeps concurrent retries apart.
    let jitter = rand::rng().random_range(0.5..=1.0);
    capped.mul_f64(jitter)
}

fn transport_error(base: &str, path: &str, e: reqwest::Error) -> PaletteError {
    if e.is_timeout() {
        PaletteError::Timeout {
            path: path.to_string(),
        }
    } else {
        // reqwest's own message ("error sending request") says nothing; the causes say what
        // went wrong, and the base URL says where (its path and query are the call's).
        let e = e.without_url();
        // The same URL `/sync/status` shows: credentials in it are masked.
        let mut message = format!("{}: {e}", crate::config::redact_url(base));
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            message.push_str(&format!(": {c}"));
            cause = c.source();
        }
        PaletteError::Unreachable {
            path: path.to_string(),
            message,
        }
    }
}

/// Palette's `{code, message}` error body, if there is one, without the call's secrets
/// (Palette may echo a rejected key or token).
fn palette_message(body: &[u8], secrets: &[&str]) -> String {
    let text = String::from_utf8_lossy(body);
    let message = match serde_json::from_slice::<Value>(body) {
        Ok(v) => match (v["code"].as_str(), v["message"].as_str()) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (None, Some(m)) => m.to_string(),
            _ => text.to_string(),
        },
        Err(_) => text.to_string(),
    };
    truncate(&super::scrub(&message, secrets))
}

fn truncate(s: &str) -> String {
    let s = s.trim();
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    } else {
        s.to_string()
    }
}

fn status_error(
    path: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    secrets: &[&str],
) -> PaletteError {
    let path = path.to_string();
    let palette_message = |body| palette_message(body, secrets);
    match status {
        StatusCode::NOT_FOUND => PaletteError::NotFound { path },
        StatusCode::UNAUTHORIZED => PaletteError::Unauthorized {
            path,
            message: palette_message(body),
        },
        StatusCode::FORBIDDEN => PaletteError::Forbidden {
            path,
            message: palette_message(body),
        },
        StatusCode::TOO_MANY_REQUESTS => PaletteError::Throttled {
            path,
            retry_after: headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
        },
        StatusCode::CONFLICT => PaletteError::Conflict {
            path,
            message: palette_message(body),
        },
        // A server (or a gateway in front of it) too busy to read the request in time: as
        // transient as a 5xx, and retried like one.
        StatusCode::REQUEST_TIMEOUT => PaletteError::Upstream {
            path,
            status: 408,
            message: palette_message(body),
        },
        s if s.is_client_error() => PaletteError::BadRequest {
            path,
            message: format!("{}: {}", s.as_u16(), palette_message(body)),
        },
        s => PaletteError::Upstream {
            path,
            status: s.as_u16(),
            message: palette_message(body),
        },
    }
}

impl PaletteClient {
    /// Fetches every page of a list endpoint with the environment key. `body` makes it a POST
    /// search.
    pub async fn list_all(
        &self,
        path: &str,
        body: Option<Value>,
        project: Option<&str>,
        counter: Option<&AtomicU64>,
    ) -> Result<Listing, PaletteError> {
        let method = if body.is_some() {
            Method::POST
        } else {
            Method::GET
        };
        let mut call = self.request(method, path).project(project);
        if let Some(b) = body {
            call = call.json_body(b);
        }
        if let Some(c) = counter {
            call = call.counted(c);
        }
        call.pages().await
    }
}

impl Call<'_> {
    /// Sends this list call page by page (`limit` = the page size, `continue` in the query
    /// string only, never the body). Every page must be a list ([`list_items`]), and the pages
    /// must end: a repeated token, or more pages than `listmeta.count` allows (with slack for
    /// drift), fails the listing.
    pub async fn pages(self) -> Result<Listing, PaletteError> {
        let mut items = Vec::new();
        let (pages, complete) = self.each_page(|page| items.extend(page)).await?;
        Ok(Listing {
            items,
            pages,
            complete,
        })
    }

    /// [`Call::pages`] handing each page's items to `each` as it arrives, so a caller that
    /// keeps only what it needs of them never holds the whole listing. Returns the pages
    /// fetched and whether the listing was complete.
    pub async fn each_page(
        self,
        mut each: impl FnMut(Vec<Value>),
    ) -> Result<(usize, bool), PaletteError> {
        let call = self.listing();
        let name = call.name();
        let page_size = call.client.page_size();
        let mut pages = 0;
        let mut token = String::new();
        let mut seen_tokens = std::collections::HashSet::new();
        // Every `count` Palette reported, and the distinct uids received: Palette pages by
        // offset, so an object deleted (or reordered) mid-listing shifts the rest and one
        // can be skipped while the final count still matches the items received.
        let mut counts = std::collections::HashSet::new();
        let mut uids = std::collections::HashSet::new();
        let mut without_uid = 0usize;
        loop {
            let mut page_call = call.clone().query("limit", page_size.to_string());
            if !token.is_empty() {
                page_call = page_call.query("continue", token.clone());
            }
            let mut page = page_call.json().await?;
            pages += 1;
            let meta = page
                .as_object_mut()
                .and_then(|o| o.get("listmeta").cloned())
                .unwrap_or(Value::Null);
            let items = list_items(&name, page)?;
            let empty = items.is_empty();
            for item in &items {
                match super::models::uid(item) {
                    Some(u) => {
                        uids.insert(u.to_string());
                    }
                    None => without_uid += 1,
                }
            }
            each(items);
            if let Some(c) = meta["count"].as_u64() {
                counts.insert(c);
            }
            let next = meta["continue"].as_str().unwrap_or("").to_string();
            if next.is_empty() || empty {
                break;
            }
            let allowed = pages_allowed(counts.iter().max().copied(), page_size);
            if !seen_tokens.insert(next.clone()) {
                return Err(untrusted(
                    &name,
                    format!(
                        "pages that do not end (a `continue` token repeated after {pages} pages)"
                    ),
                ));
            }
            if pages >= allowed {
                return Err(untrusted(
                    &name,
                    format!(
                        "pages that do not end (still a new `continue` token after {pages} pages, \
                         where listmeta.count {} at {page_size} a page allows {allowed})",
                        counts.iter().max().copied().unwrap_or(0)
                    ),
                ));
            }
            token = next;
        }
        // Complete: the count never moved, and exactly that many distinct objects arrived.
        Ok((pages, listing_complete(&counts, uids.len() + without_uid)))
    }
}

/// The most pages a listing of `count` objects may take: what the page size calls for, a
/// tenth more and two more for objects added while paging; no count at all: `MAX_PAGES`.
fn pages_allowed(count: Option<u64>, page_size: u32) -> usize {
    match count {
        Some(c) => {
            let expected = (c as usize).div_ceil(page_size.max(1) as usize);
            (expected + expected / 10 + EXTRA_PAGES).min(MAX_PAGES)
        }
        None => MAX_PAGES,
    }
}

fn untrusted(call: &str, problem: String) -> PaletteError {
    PaletteError::Untrusted {
        call: call.to_string(),
        problem,
    }
}

/// How a JSON value is named in an error.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The items of a list answer to `call` (e.g. `GET /v1/overlords`): a JSON array, or an object
/// with an `items` (or `summaries`) array; `items: null` beside a `listmeta` is an empty page
/// (Go's empty slice). Anything else — a number, a string, `null`, `{}`, `{"error": ..}`, a
/// gateway's page — is `Untrusted`: taken as an empty listing, it would delete a whole kind.
pub fn list_items(call: &str, v: Value) -> Result<Vec<Value>, PaletteError> {
    let mut o = match v {
        Value::Array(a) => return Ok(a),
        Value::Object(o) => o,
        other => {
            let found = kind_of(&other);
            return Err(untrusted(
                call,
                format!("{found} where a list was expected"),
            ));
        }
    };
    for key in ["items", "summaries"] {
        match o.remove(key) {
            Some(Value::Array(a)) => return Ok(a),
            Some(Value::Null) if o.get("listmeta").is_some_and(Value::is_object) => {
                return Ok(Vec::new());
            }
            Some(other) => {
                let found = kind_of(&other);
                return Err(untrusted(
                    call,
                    format!("{found} as `{key}` where a list was expected"),
                ));
            }
            None => {}
        }
    }
    // The keys only (an error page's text may carry anything); a few, short.
    let keys: Vec<String> = o.keys().take(5).map(|k| truncate_to(k, 40)).collect();
    let what = if keys.is_empty() {
        "an empty object".to_string()
    } else {
        format!("an object without `items` (keys: {})", keys.join(", "))
    };
    Err(untrusted(call, format!("{what} where a list was expected")))
}

fn truncate_to(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_string(),
    }
}

/// A paged listing is complete when Palette's `count` never moved between pages and exactly
/// that many distinct objects arrived (no `count` at all: nothing to check against).
fn listing_complete(counts: &std::collections::HashSet<u64>, distinct: usize) -> bool {
    match counts.iter().collect::<Vec<_>>()[..] {
        [] => true,
        [&count] => count as usize == distinct,
        _ => false,
    }
}

/// The body of a virtual-cluster search: environment `nested`, not deleted.
pub fn virtual_cluster_filter() -> Value {
    json!({
        "filter": {
            "conjunction": "and",
            "filterGroups": [{
                "conjunction": "and",
                "filters": [
                    { "property": "environment", "type": "string",
                      "condition": { "string": { "operator": "eq", "negation": false,
                        "match": { "conjunction": "or", "values": ["nested"] }, "ignoreCase": false } } },
                    { "property": "isDeleted", "type": "bool", "condition": { "bool": { "value": false } } }
                ]
            }]
        },
        "sort": [{ "field": "lastModifiedTimestamp", "order": "desc" }]
    })
}

#[cfg(test)]
mod tests {
    use super::{list_items, listing_complete, pages_allowed};
    use serde_json::json;
    use std::collections::HashSet;

    #[test]
    fn only_a_list_is_a_listing() {
        let call = "GET /v1/overlords";
        assert_eq!(list_items(call, json!([1])).unwrap().len(), 1);
        assert!(list_items(call, json!({"items": []})).unwrap().is_empty());
        assert_eq!(
            list_items(call, json!({"summaries": [1, 2]}))
                .unwrap()
                .len(),
            2
        );
        let nil_page = json!({"items": null, "listmeta": {"continue": "", "count": 0}});
        assert!(list_items(call, nil_page).unwrap().is_empty());
        for (bad, says) in [
            (json!(42), "a number where a list was expected"),
            (json!("x"), "a string where"),
            (json!(null), "null where"),
            (json!({}), "an empty object where"),
            (
                json!({"error": "maintenance"}),
                "without `items` (keys: error)",
            ),
            (json!({"message": "x"}), "(keys: message)"),
            (json!({"items": null}), "null as `items`"),
            (json!({"items": 7}), "a number as `items`"),
        ] {
            let e = list_items(call, bad.clone())
                .expect_err(&bad.to_string())
                .to_string();
            assert!(e.starts_with("GET /v1/overlords answered "), "{e}");
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn pages_are_bounded_by_the_count() {
        assert_eq!(pages_allowed(Some(117), 50), 3 + 2);
        assert_eq!(pages_allowed(Some(0), 50), 2);
        assert_eq!(pages_allowed(Some(5000), 50), 100 + 10 + 2);
        assert_eq!(pages_allowed(None, 50), super::MAX_PAGES);
    }

    #[test]
    fn a_listing_that_moved_while_paging_is_not_complete() {
        let counts = |c: &[u64]| c.iter().copied().collect::<HashSet<u64>>();
        assert!(listing_complete(&counts(&[117]), 117));
        assert!(listing_complete(&counts(&[]), 3), "no count reported");
        // One deleted between pages: the rest shifted, one live object was skipped, and the
        // last page's count matches what arrived; the first page's count does not.
        assert!(!listing_complete(&counts(&[117, 116]), 116));
        // One moved to the front between pages: another arrived twice, one never did.
        assert!(!listing_complete(&counts(&[117]), 116));
        // One created mid-listing.
        assert!(!listing_complete(&counts(&[117, 118]), 118));
    }
}
