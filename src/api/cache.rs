//! The response cache: whole mirror answers with their headers and their gzip and br forms, so
//! a hot answer is neither rebuilt nor recompressed. Keyed by (environment, mirror generation,
//! last sync, visibility, what else decides the answer, path and canonical query): any
//! committed write (a sync, a write-through), by this process or another on the same database
//! (a replica, a `sync --once`), moves the generation, so an entry is not served after the data
//! it was built from changed (another process's write: once it is heard of, see
//! `store::generation`), and two callers share an entry only when they see exactly the same
//! objects. Bounded by `server.response_cache_bytes`, least recently used
//! first out.
//!
//! It runs inside authorization (the caller, the Palette user and the route spec are known) and
//! inside the ETag and compression layers: an answer it serves carries its own `ETag` and,
//! for br and gzip, its `Content-Encoding`, which those layers then leave alone. A query
//! parameter the route does not accept is refused here (400), cache or not.

use std::collections::HashMap;
use std::hash::Hash;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, AcceptEncoding, Encoding, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{Error, HttpMessage, HttpResponse};
use lru::LruCache;
use sha2::{Digest, Sha256};

use super::respond::SOURCE;
use crate::api::routes::{RouteSpec, Source};
use crate::auth::scope::{self, Visibility};
use crate::service::AppState;
use crate::service::Ctx;

/// What an answer depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    env: String,
    generation: u64,
    /// The last sync's time: the freshness headers kept with an entry must stay true.
    synced_at: Option<i64>,
    /// A digest of what the caller may see (never the Palette user: users seeing the same
    /// objects get the same answers).
    visibility: [u8; 32],
    /// A digest of what else decides the answer (see [`context_digest`]).
    context: [u8; 32],
    /// The path and the canonical query (`RouteSpec::canonical_query`).
    target: String,
}

impl Key {
    fn cost(&self) -> usize {
        self.env.len() + self.target.len() + 128
    }
}

/// What decides an answer besides the objects the caller sees: whether a Palette user token
/// came (without one, the fleet report covers every environment that does not require one),
/// and every environment's name, freshness and completeness (the fleet report shows them all;
/// the freshness headers kept with an entry must stay true, so the entry goes when they move).
fn context_digest(ctx: &Ctx) -> [u8; 32] {
    let s = &ctx.state;
    let mut h = Sha256::new();
    h.update([u8::from(ctx.user.token.is_some())]);
    for env in s.envs.all() {
        let f = s.sync.freshness(env.name());
        h.update((env.name().len() as u64).to_le_bytes());
        h.update(env.name().as_bytes());
        h.update([
            u8::from(env.config.requires_user_token(&s.config.auth)),
            u8::from(f.stale),
        ]);
        h.update(
            f.synced_at
                .map_or(-1, |t| t.timestamp_micros())
                .to_le_bytes(),
        );
        h.update(f.without_index.to_le_bytes());
    }
    h.finalize().into()
}

/// The digest of a visibility: `All`, or the exact project and tenant permission lists.
pub fn visibility_digest(vis: &Visibility) -> [u8; 32] {
    let mut h = Sha256::new();
    match vis {
        Visibility::All => h.update(b"all"),
        Visibility::Limited {
            projects,
            tenant_permissions,
        } => {
            h.update(b"limited");
            for list in [projects, tenant_permissions] {
                let mut sorted: Vec<&String> = list.iter().collect();
                sorted.sort();
                sorted.dedup();
                h.update((sorted.len() as u64).to_le_bytes());
                for s in sorted {
                    h.update((s.len() as u64).to_le_bytes());
                    h.update(s.as_bytes());
                }
            }
        }
    }
    h.finalize().into()
}

/// One answer: its headers, bytes, tag and compressed forms (made on first demand).
pub struct Entry {
    /// Every header the handler set (content type, `Content-Disposition`, freshness, ...), so
    /// a hit is the first answer again: a CSV download stays a CSV download.
    headers: HeaderMap,
    plain: Bytes,
    etag: HeaderValue,
    gzip: OnceLock<Bytes>,
    br: OnceLock<Bytes>,
}

/// Headers that belong to one transfer or one encoding, not to the answer: set anew each time.
fn per_transfer(name: &header::HeaderName) -> bool {
    [
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
        header::TRANSFER_ENCODING,
        header::ETAG,
        header::DATE,
        header::SET_COOKIE,
    ]
    .contains(name)
}

impl Entry {
    pub fn new(headers: &HeaderMap, plain: Bytes) -> Result<Entry, header::InvalidHeaderValue> {
        let etag = HeaderValue::from_str(&super::etag::tag(&plain))?;
        let mut kept = HeaderMap::new();
        for (k, v) in headers.iter().filter(|(k, _)| !per_transfer(k)) {
            kept.append(k.clone(), v.clone());
        }
        Ok(Entry {
            headers: kept,
            plain,
            etag,
            gzip: OnceLock::new(),
            br: OnceLock::new(),
        })
    }

    fn size(&self) -> usize {
        let len = |b: &OnceLock<Bytes>| b.get().map_or(0, Bytes::len);
        let head: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        head + self.plain.len() + len(&self.gzip) + len(&self.br)
    }
}

struct Inner {
    lru: LruCache<Key, Arc<Entry>>,
    bytes: usize,
}

/// The cache itself (one per application).
pub struct ResponseCache {
    cap: usize,
    inner: Mutex<Inner>,
    /// Answers being built now, by key: a second caller waits for the first build.
    flights: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    /// A caller's `no-cache` rebuilds of a key are this far apart at least.
    rebuild_interval: Duration,
    /// When each (caller, key) was last rebuilt on `no-cache`.
    rebuilt: Mutex<HashMap<(String, Key), Instant>>,
}

/// Who builds a missing answer. After a sync every key misses at once; without this, eight
/// callers of a 200 ms report would build it eight times on two cores, each waiting for all.
enum Turn {
    /// Build it; followers wait until the flight is dropped.
    Lead { _flight: Flight },
    /// Wait for the leader, then read the cache.
    Follow(Arc<tokio::sync::Mutex<()>>),
}

/// A build in progress: held by its leader, removed from the cache's flights when dropped
/// (also when the leader's request is cancelled), which lets the followers go.
struct Flight {
    cache: web::Data<ResponseCache>,
    key: Key,
    held: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for Flight {
    fn drop(&mut self) {
        if let Ok(mut flights) = self.cache.flights.lock()
            && flights
                .get(&self.key)
                .is_some_and(|l| Arc::ptr_eq(l, tokio::sync::OwnedMutexGuard::mutex(&self.held)))
        {
            flights.remove(&self.key);
        }
    }
}

/// The turn of a caller that missed `key`; None when the flights cannot be read (build alone).
fn turn(cache: &web::Data<ResponseCache>, key: &Key) -> Option<Turn> {
    let mut flights = cache.flights.lock().ok()?;
    if let Some(lock) = flights.get(key) {
        return Some(Turn::Follow(lock.clone()));
    }
    let lock = Arc::new(tokio::sync::Mutex::new(()));
    let held = lock.clone().try_lock_owned().ok()?;
    flights.insert(key.clone(), lock);
    Some(Turn::Lead {
        _flight: Flight {
            cache: cache.clone(),
            key: key.clone(),
            held,
        },
    })
}

impl ResponseCache {
    /// A cache of at most `cap` bytes (0: off).
    pub fn new(cap: usize) -> ResponseCache {
        ResponseCache {
            cap,
            inner: Mutex::new(Inner {
                lru: LruCache::unbounded(),
                bytes: 0,
            }),
            flights: Mutex::default(),
            rebuild_interval: Duration::ZERO,
            rebuilt: Mutex::default(),
        }
    }

    /// At most one `no-cache` rebuild per caller and key in `interval` (zero: every one).
    pub fn with_rebuild_interval(mut self, interval: Duration) -> ResponseCache {
        self.rebuild_interval = interval;
        self
    }

    /// Whether `caller` may rebuild `key` now (and if so, the time is noted).
    fn may_rebuild(&self, caller: &str, key: &Key, now: Instant) -> bool {
        if self.rebuild_interval.is_zero() {
            return true;
        }
        let Ok(mut rebuilt) = self.rebuilt.lock() else {
            return true;
        };
        let id = (caller.to_string(), key.clone());
        if rebuilt
            .get(&id)
            .is_some_and(|at| now.duration_since(*at) < self.rebuild_interval)
        {
            return false;
        }
        // Forget what no longer limits anyone, so the map holds one interval's rebuilds.
        let interval = self.rebuild_interval;
        rebuilt.retain(|_, at| now.duration_since(*at) < interval);
        rebuilt.insert(id, now);
        true
    }

    pub fn enabled(&self) -> bool {
        self.cap > 0
    }

    /// Bytes held now (bodies, compressed forms and keys).
    pub fn bytes(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.bytes)
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.lru.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, key: &Key) -> Option<Arc<Entry>> {
        self.inner.lock().ok()?.lru.get(key).cloned()
    }

    /// Keeps `entry` unless it alone is larger than the cap; evicts the least recently used.
    pub fn put(&self, key: Key, entry: Arc<Entry>) {
        let cost = key.cost() + entry.size();
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if cost > self.cap {
            return;
        }
        if let Some(old) = inner.lru.pop(&key) {
            inner.bytes = inner.bytes.saturating_sub(key.cost() + old.size());
        }
        inner.bytes += cost;
        inner.lru.put(key, entry);
        evict(&mut inner, self.cap);
    }

    /// Accounts `added` bytes of a compressed form just stored in `entry` (if still cached).
    fn charge(&self, key: &Key, entry: &Arc<Entry>, added: usize) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.lru.peek(key).is_some_and(|e| Arc::ptr_eq(e, entry)) {
            inner.bytes += added;
            evict(&mut inner, self.cap);
        }
    }
}

fn evict(inner: &mut Inner, cap: usize) {
    while inner.bytes > cap {
        let Some((k, e)) = inner.lru.pop_lru() else {
            inner.bytes = 0;
            return;
        };
        inner.bytes = inner.bytes.saturating_sub(k.cost() + e.size());
    }
}

/// The body encodings this cache keeps; others (zstd, deflate) are left to `Compress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Plain,
    Gzip,
    Br,
}

/// The encoding `Compress` would choose (same candidates, same order), so a cached answer is
/// encoded exactly as an uncached one.
fn negotiate(req: &ServiceRequest) -> Form {
    let Some(accept) = req.get_header::<AcceptEncoding>() else {
        return Form::Plain;
    };
    let supported = [
        Encoding::identity(),
        Encoding::brotli(),
        Encoding::gzip(),
        Encoding::deflate(),
        Encoding::zstd(),
    ];
    match accept.negotiate(supported.iter()) {
        Some(e) if e == Encoding::brotli() => Form::Br,
        Some(e) if e == Encoding::gzip() => Form::Gzip,
        _ => Form::Plain,
    }
}

/// Compressed as `Compress` does it (gzip fast; brotli quality 3, window 22).
fn compress(form: Form, plain: &[u8]) -> std::io::Result<Vec<u8>> {
    match form {
        Form::Plain => Ok(plain.to_vec()),
        Form::Gzip => {
            let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            w.write_all(plain)?;
            w.finish()
        }
        Form::Br => {
            let mut w = brotli::CompressorWriter::new(Vec::new(), 32 * 1024, 3, 22);
            w.write_all(plain)?;
            w.flush()?;
            Ok(w.into_inner())
        }
    }
}

/// Large bodies are compressed off the worker thread.
const INLINE_COMPRESS_BYTES: usize = 64 * 1024;

async fn form_of(
    cache: &ResponseCache,
    key: &Key,
    entry: &Arc<Entry>,
    form: Form,
) -> Result<Bytes, Error> {
    let slot = match form {
        Form::Plain => return Ok(entry.plain.clone()),
        Form::Gzip => &entry.gzip,
        Form::Br => &entry.br,
    };
    if let Some(b) = slot.get() {
        return Ok(b.clone());
    }
    let plain = entry.plain.clone();
    let made = if plain.len() < INLINE_COMPRESS_BYTES {
        compress(form, &plain)?
    } else {
        web::block(move || compress(form, &plain)).await??
    };
    let made = Bytes::from(made);
    if slot.set(made.clone()).is_ok() {
        cache.charge(key, entry, made.len());
    }
    Ok(made)
}

/// The key of a cacheable request of `spec` (a mirror GET), by a caller whose visibility is
/// known, of an environment that has synced; with the caller's subject. None: the handler
/// answers as if no cache existed.
async fn key_of(req: &ServiceRequest, cache: &ResponseCache, query: &str) -> Option<(Key, String)> {
    if !cache.enabled() {
        return None;
    }
    let ctx = super::extract::context(req.request()).ok()?;
    let s = &ctx.state;
    let synced_at = s.sync.freshness(ctx.env.name()).synced_at?;
    let vis = scope::resolve(&s.db, &s.scopes, &s.tokens, &ctx.env, &ctx.user)
        .await
        .ok()?;
    let key = Key {
        env: ctx.env.name().to_string(),
        generation: s.db.generation(),
        synced_at: Some(synced_at.timestamp_micros()),
        visibility: visibility_digest(&vis),
        context: context_digest(&ctx),
        target: format!("{}?{query}", req.path()),
    };
    Some((key, ctx.caller.subject.clone()))
}

/// The route of a cacheable request: a GET (or HEAD, made a GET outside) of a mirror route.
fn mirror_get(req: &ServiceRequest) -> Option<&'static RouteSpec> {
    let spec = req.extensions().get::<&'static RouteSpec>().copied()?;
    (spec.source == Source::Mirror && req.method() == Method::GET).then_some(spec)
}

pub async fn cache(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(spec) = mirror_get(&req) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // Refused whether or not the cache is on: an unknown parameter is a mistake to hear
    // about, and never a fresh key that evicts other callers' answers.
    let query = match spec.canonical_query(req.query_string()) {
        Ok(q) => q,
        Err(e) => return Ok(req.error_response(e)),
    };
    let Some(cache) = req.app_data::<web::Data<ResponseCache>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let Some((key, caller)) = key_of(&req, &cache, &query).await else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let form = negotiate(&req);
    let asked = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let turn = if wants_rebuild(req.headers()) {
        match rebuild_turn(&req, &cache, &caller, &key) {
            Rebuild::Build(turn) => turn,
            Rebuild::Serve(entry) => {
                return hit(req, &cache, &key, &entry, form, asked.as_deref()).await;
            }
        }
    } else {
        if let Some(entry) = cache.get(&key) {
            return hit(req, &cache, &key, &entry, form, asked.as_deref()).await;
        }
        turn(&cache, &key)
    };
    if let Some(Turn::Follow(lock)) = &turn {
        drop(lock.lock().await);
        if let Some(entry) = cache.get(&key) {
            return hit(req, &cache, &key, &entry, form, asked.as_deref()).await;
        }
    }
    metrics_hit(&req, false);
    let res = next.call(req).await?.map_into_boxed_body();
    let mirror = res.headers().get(SOURCE).is_some_and(|v| v == "mirror");
    if res.status() != StatusCode::OK || !mirror {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let bytes = match body.try_into_bytes() {
        Ok(b) => b,
        Err(body) => return Ok(ServiceResponse::new(req, head.set_body(body))),
    };
    let entry =
        Entry::new(head.headers(), bytes).map_err(actix_web::error::ErrorInternalServerError)?;
    let entry = Arc::new(entry);
    cache.put(key.clone(), entry.clone());
    drop(turn);
    let res = answer(&cache, &key, &entry, form, asked.as_deref()).await?;
    Ok(ServiceResponse::new(req, res))
}

/// What a `no-cache` request gets.
enum Rebuild {
    /// Its turn: lead a new build of the key, or (`Turn::Follow`) wait for the build already
    /// in flight and be served its answer.
    Build(Option<Turn>),
    /// This caller's own rebuild of the interval: the mirror has not changed since, or the
    /// key would differ.
    Serve(Arc<Entry>),
}

/// `Cache-Control: no-cache`: join the key's build in flight if there is one; else rebuild,
/// at most once per `rebuild_interval` for this caller and key (a flood of them would
/// otherwise spend the cores every other caller's answers need).
fn rebuild_turn(
    req: &ServiceRequest,
    cache: &web::Data<ResponseCache>,
    caller: &str,
    key: &Key,
) -> Rebuild {
    let outcome = |what: &'static str| {
        if let Some(s) = req.app_data::<web::Data<AppState>>() {
            metrics::counter!("spectrocloud_response_cache_rebuilds_total",
                "app" => s.envs.app().to_string(), "outcome" => what)
            .increment(1);
        }
    };
    let flying = cache.flights.lock().ok().and_then(|f| f.get(key).cloned());
    if let Some(lock) = flying {
        outcome("joined");
        return Rebuild::Build(Some(Turn::Follow(lock)));
    }
    if !cache.may_rebuild(caller, key, Instant::now())
        && let Some(entry) = cache.get(key)
    {
        outcome("limited");
        return Rebuild::Serve(entry);
    }
    outcome("built");
    Rebuild::Build(turn(cache, key))
}
/// Whether the caller asked for an answer built now (`Cache-Control: no-cache`, or
/// `Pragma: no-cache` from HTTP/1.0 clients).
fn wants_rebuild(headers: &HeaderMap) -> bool {
    let says = |name: header::HeaderName| {
        headers.get_all(name).any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|d| d.trim().eq_ignore_ascii_case("no-cache"))
            })
        })
    };
    says(header::CACHE_CONTROL) || says(header::PRAGMA)
}

/// The cached answer, with the headers of the first.
async fn hit(
    req: ServiceRequest,
    cache: &ResponseCache,
    key: &Key,
    entry: &Arc<Entry>,
    form: Form,
    asked: Option<&str>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let res = answer(cache, key, entry, form, asked).await?;
    metrics_hit(&req, true);
    Ok(req.into_response(res))
}

/// 304 when the caller holds this tag; else the body in the form asked for.
async fn answer(
    cache: &ResponseCache,
    key: &Key,
    entry: &Arc<Entry>,
    form: Form,
    asked: Option<&str>,
) -> Result<HttpResponse, Error> {
    let tag = entry.etag.clone();
    if asked.is_some_and(|a| tag.to_str().is_ok_and(|t| super::etag::matches(a, t))) {
        return Ok(super::etag::not_modified(&entry.headers, tag));
    }
    let body = form_of(cache, key, entry, form).await?;
    let mut res = HttpResponse::Ok();
    for (k, v) in &entry.headers {
        res.append_header((k.clone(), v.clone()));
    }
    res.insert_header((header::ETAG, tag));
    let encoding = match form {
        Form::Plain => None,
        Form::Gzip => Some("gzip"),
        Form::Br => Some("br"),
    };
    if let Some(e) = encoding {
        res.insert_header((header::CONTENT_ENCODING, e));
        // As `Compress` does when it encodes.
        res.append_header((header::VARY, "accept-encoding"));
    }
    Ok(res.body(body))
}

fn metrics_hit(req: &ServiceRequest, hit: bool) {
    if let Some(s) = req.app_data::<web::Data<AppState>>() {
        let outcome = if hit { "hit" } else { "miss" };
        metrics::counter!("spectrocloud_response_cache_total", "app" => s.envs.app().to_string(),
            "outcome" => outcome)
        .increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(target: &str) -> Key {
        Key {
            env: "e".into(),
            generation: 1,
            synced_at: Some(1),
            visibility: visibility_digest(&Visibility::All),
            context: [0; 32],
            target: target.into(),
        }
    }

    fn entry(n: usize) -> Arc<Entry> {
        Arc::new(Entry::new(&HeaderMap::new(), Bytes::from(vec![b'x'; n])).expect("tag"))
    }

    #[test]
    fn the_cap_holds_and_the_least_recently_used_goes_first() {
        let cache = ResponseCache::new(1000);
        cache.put(key("/a"), entry(300));
        cache.put(key("/b"), entry(300));
        assert!(cache.get(&key("/a")).is_some()); // /a is now the most recent
        cache.put(key("/c"), entry(300));
        assert!(cache.bytes() <= 1000, "{} bytes", cache.bytes());
        assert!(cache.get(&key("/b")).is_none());
        assert!(cache.get(&key("/a")).is_some() && cache.get(&key("/c")).is_some());
        cache.put(key("/huge"), entry(5000));
        assert!(cache.get(&key("/huge")).is_none());
        assert!(cache.bytes() <= 1000);
    }

    #[test]
    fn a_second_miss_waits_for_the_first_build_and_a_dropped_build_lets_it_go() {
        let cache = web::Data::new(ResponseCache::new(1000));
        let lead = turn(&cache, &key("/a"));
        assert!(matches!(lead, Some(Turn::Lead { .. })));
        let Some(Turn::Follow(lock)) = turn(&cache, &key("/a")) else {
            panic!("a second miss of /a must follow");
        };
        assert!(lock.try_lock().is_err(), "the build of /a is still running");
        // Another key builds on its own (and its flight ends when dropped here).
        assert!(matches!(turn(&cache, &key("/b")), Some(Turn::Lead { .. })));
        drop(lead);
        assert!(
            lock.try_lock().is_ok(),
            "the follower goes once the build ends"
        );
        assert!(cache.flights.lock().expect("flights").is_empty());
        assert!(matches!(turn(&cache, &key("/a")), Some(Turn::Lead { .. })));
    }

    #[test]
    fn an_entry_keeps_the_answers_headers_but_not_the_transfers() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"a.csv\""),
        );
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("3"));
        h.insert(header::SET_COOKIE, HeaderValue::from_static("s=1"));
        let e = Entry::new(&h, Bytes::from_static(b"a,b")).expect("entry");
        assert_eq!(e.headers.get(header::CONTENT_TYPE).unwrap(), "text/csv");
        assert!(e.headers.contains_key(header::CONTENT_DISPOSITION));
        assert!(!e.headers.contains_key(header::CONTENT_LENGTH));
        assert!(!e.headers.contains_key(header::SET_COOKIE));
    }

    #[test]
    fn a_caller_rebuilds_a_key_once_per_interval() {
        let cache = ResponseCache::new(1000).with_rebuild_interval(Duration::from_secs(5));
        let t0 = Instant::now();
        assert!(cache.may_rebuild("alice", &key("/a"), t0));
        assert!(!cache.may_rebuild("alice", &key("/a"), t0 + Duration::from_secs(1)));
        // Another caller, another key: their own budget.
        assert!(cache.may_rebuild("bob", &key("/a"), t0 + Duration::from_secs(1)));
        assert!(cache.may_rebuild("alice", &key("/b"), t0 + Duration::from_secs(1)));
        assert!(cache.may_rebuild("alice", &key("/a"), t0 + Duration::from_secs(6)));
        // Only the last interval's rebuilds are remembered.
        assert_eq!(cache.rebuilt.lock().expect("map").len(), 1);
        let every = ResponseCache::new(1000);
        assert!(every.may_rebuild("alice", &key("/a"), t0));
        assert!(every.may_rebuild("alice", &key("/a"), t0));
    }

    #[test]
    fn no_cache_asks_for_a_rebuild_and_other_directives_do_not() {
        let with = |name: &str, value: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
            wants_rebuild(&h)
        };
        assert!(with("cache-control", "no-cache"));
        assert!(with("cache-control", "max-age=0, No-Cache"));
        assert!(with("pragma", "no-cache"));
        assert!(!with("cache-control", "max-age=0"));
        assert!(!with("cache-control", "no-store"));
        assert!(!wants_rebuild(&HeaderMap::new()));
    }

    #[test]
    fn compressed_forms_count_against_the_cap() {
        let cache = ResponseCache::new(1000);
        let (k, e) = (key("/a"), entry(400));
        cache.put(k.clone(), e.clone());
        let before = cache.bytes();
        e.gzip.set(Bytes::from(vec![0; 700])).expect("unset");
        cache.charge(&k, &e, 700);
        assert!(cache.bytes() <= 1000);
        assert!(cache.get(&k).is_none() || cache.bytes() == before + 700);
    }

    #[test]
    fn visibility_digests_tell_scopes_apart_but_not_list_order() {
        let lim = |p: &[&str]| Visibility::Limited {
            projects: p.iter().map(|s| s.to_string()).collect(),
            tenant_permissions: vec![],
        };
        let all = visibility_digest(&Visibility::All);
        assert_ne!(all, visibility_digest(&lim(&[])));
        assert_ne!(
            visibility_digest(&lim(&["a"])),
            visibility_digest(&lim(&["b"]))
        );
        assert_eq!(
            visibility_digest(&lim(&["a", "b"])),
            visibility_digest(&lim(&["b", "a"]))
        );
        // Boundaries are part of the digest: ["ab"] is not ["a", "b"].
        assert_ne!(
            visibility_digest(&lim(&["ab"])),
            visibility_digest(&lim(&["a", "b"]))
        );
    }

    #[test]
    fn compressed_forms_decompress_to_the_body() {
        use std::io::Read;
        let plain = b"{\"clusters\":[]}".repeat(100);
        let gz = compress(Form::Gzip, &plain).expect("gzip");
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        assert_eq!(out, plain);
        let br = compress(Form::Br, &plain).expect("br");
        let mut out = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut out)
            .expect("unbrotli");
        assert_eq!(out, plain);
    }
}
