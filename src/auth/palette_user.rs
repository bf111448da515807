//! The Palette identity behind a request, compatible with the original frontend:
//! `X-SpectroCloud-User-Email` looks up a shared token cache, `X-SpectroCloud-Token` is used
//! directly (and cached under the email), and `X-SpectroCloud-ReAuth-Required: true` is answered
//! when the email is known but no usable token is (the request then uses the environment's API
//! key, as the original does). A token Palette rejects is evicted and also asks for re-auth.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix_web::http::header::HeaderMap;
use serde::Deserialize;

use crate::config::Secret;
use crate::palette::Credential;

pub const EMAIL_HEADER: &str = "x-spectrocloud-user-email";
pub const TOKEN_HEADER: &str = "x-spectrocloud-token";
pub const REAUTH_HEADER: &str = "x-spectrocloud-reauth-required";

/// Lifetime assumed for a token whose `exp` cannot be read (Palette sessions last 15 minutes).
const DEFAULT_TTL_SECONDS: i64 = 15 * 60;
/// No entry outlives this, whatever `exp` a token claims (it is read unverified).
pub const MAX_TTL_SECONDS: i64 = 24 * 3600;
const SWEEP_EVERY: Duration = Duration::from_secs(60);

struct Cached {
    token: Secret,
    expires_at: i64,
}

/// Palette session tokens, shared by every request. An entry belongs to one environment, one
/// authenticated caller and one email (case-insensitive): a caller can never pick up a token
/// another caller left, and a token is never sent to another environment's Palette.
pub struct TokenCache {
    entries: Mutex<HashMap<String, Cached>>,
    last_sweep: Mutex<Instant>,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache {
            entries: Mutex::new(HashMap::new()),
            last_sweep: Mutex::new(Instant::now()),
        }
    }
}

#[derive(Deserialize)]
struct ExpClaim {
    exp: Option<i64>,
}

/// `exp` of a JWT read WITHOUT verifying its signature (Palette's HS256 secret is not ours);
/// only used to know when to stop trusting a cached token.
pub fn token_expiry(token: &str) -> Option<i64> {
    jsonwebtoken::dangerous::insecure_decode::<ExpClaim>(token)
        .ok()
        .and_then(|t| t.claims.exp)
}

/// A Palette session token: a JWT whose header says HS256.
fn is_session_token(token: &str) -> bool {
    jsonwebtoken::decode_header(token)
        .map(|h| h.alg == jsonwebtoken::Algorithm::HS256)
        .unwrap_or(false)
}

/// `token` is a session token expiring later than `than`.
fn newer(token: &Secret, than: &Secret) -> bool {
    is_session_token(token.expose()) && token_expiry(token.expose()) > token_expiry(than.expose())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Whose token: environment, caller subject, email.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub env: &'a str,
    pub subject: &'a str,
    pub email: &'a str,
}

impl Owner<'_> {
    fn key(&self) -> String {
        format!(
            "{}\u{0}{}\u{0}{}",
            self.env,
            self.subject,
            self.email.to_ascii_lowercase()
        )
    }
}

impl TokenCache {
    /// A still valid token of `owner`; an expired entry is removed.
    pub fn get(&self, owner: Owner<'_>) -> Option<Secret> {
        let key = owner.key();
        let mut entries = self.entries.lock().ok()?;
        match entries.get(&key) {
            Some(c) if c.expires_at > now() => Some(c.token.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Caches a Palette session token for `owner`. Only HS256 JWTs are Palette session tokens
    /// (the original cached nothing else): another token the frontend may hold, such as an
    /// RS256 id_token after a refresh, is used for its request but never cached. The entry
    /// lives until the token's `exp`, at most [`MAX_TTL_SECONDS`].
    pub fn store(&self, owner: Owner<'_>, token: &Secret) {
        if !is_session_token(token.expose()) {
            return;
        }
        let t = now();
        let expires_at = token_expiry(token.expose())
            .unwrap_or(t + DEFAULT_TTL_SECONDS)
            .min(t + MAX_TTL_SECONDS);
        if expires_at <= t {
            return;
        }
        self.sweep();
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(
                owner.key(),
                Cached {
                    token: token.clone(),
                    expires_at,
                },
            );
        }
    }

    /// Forgets `owner`'s entry if it still holds `token` (a newer one stays).
    pub fn evict(&self, owner: Owner<'_>, token: &Secret) {
        if let Ok(mut entries) = self.entries.lock() {
            let key = owner.key();
            if entries.get(&key).is_some_and(|c| c.token == *token) {
                entries.remove(&key);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops expired entries, at most once a minute.
    fn sweep(&self) {
        let Ok(mut last) = self.last_sweep.lock() else {
            return;
        };
        if last.elapsed() < SWEEP_EVERY {
            return;
        }
        *last = Instant::now();
        if let Ok(mut entries) = self.entries.lock() {
            let t = now();
            entries.retain(|_, c| c.expires_at > t);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenSource {
    Cache,
    Header,
}

/// The Palette identity of one request.
pub struct PaletteUser {
    pub email: Option<String>,
    pub token: Option<Secret>,
    pub source: Option<TokenSource>,
    /// Environment and caller the token is cached for.
    env: String,
    subject: String,
    reauth: AtomicBool,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

impl PaletteUser {
    /// The rules of the original (§1.1): the cached token of the email first; else the
    /// `X-SpectroCloud-Token` header (cached under the email when one is sent). One departure:
    /// a header session token that expires later than the cached one is a newer login and
    /// replaces it (the original kept sending a cached token Palette may have revoked while
    /// the frontend held a fresh one). Re-auth is
    /// asked for exactly when an email was sent and neither gave a token. With
    /// `accept_tokens` off (an environment the tokens do not belong to) user tokens are ignored
    /// and the environment's key is used, without asking for re-auth.
    pub fn resolve(
        headers: &HeaderMap,
        cache: &TokenCache,
        env: &str,
        subject: &str,
        accept_tokens: bool,
    ) -> PaletteUser {
        let email = header(headers, EMAIL_HEADER).map(str::to_string);
        let mut user = PaletteUser {
            email,
            token: None,
            source: None,
            env: env.to_string(),
            subject: subject.to_string(),
            reauth: AtomicBool::new(false),
        };
        if !accept_tokens {
            return user;
        }
        let header_token = header(headers, TOKEN_HEADER).map(Secret::new);
        let cached = user.owner().and_then(|o| cache.get(o));
        (user.token, user.source) = match (cached, header_token) {
            (Some(c), Some(h)) if newer(&h, &c) => {
                if let Some(o) = user.owner() {
                    cache.store(o, &h);
                }
                (Some(h), Some(TokenSource::Header))
            }
            (Some(t), _) => (Some(t), Some(TokenSource::Cache)),
            (None, Some(t)) => {
                // Cached only when the cache had none: the token in use is the token stored.
                if let Some(o) = user.owner() {
                    cache.store(o, &t);
                }
                (Some(t), Some(TokenSource::Header))
            }
            (None, None) => (None, None),
        };
        if user.email.is_some() && user.token.is_none() {
            tracing::warn!(
                email = user.email.as_deref().unwrap_or(""),
                "no Palette token for this user; using the environment key and asking for re-auth"
            );
            user.reauth.store(true, Ordering::Relaxed);
        }
        user
    }

    fn owner(&self) -> Option<Owner<'_>> {
        self.email.as_deref().map(|email| Owner {
            env: &self.env,
            subject: &self.subject,
            email,
        })
    }

    /// No Palette user: the environment's API key.
    pub fn none() -> PaletteUser {
        PaletteUser {
            email: None,
            token: None,
            source: None,
            env: String::new(),
            subject: String::new(),
            reauth: AtomicBool::new(false),
        }
    }

    pub fn credential(&self) -> Credential<'_> {
        match &self.token {
            Some(t) => Credential::User(t.expose()),
            None => Credential::ApiKey,
        }
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Palette answered 401 to this user's token: forget it and ask the frontend to re-auth.
    pub fn rejected(&self, cache: &TokenCache) {
        if let (Some(o), Some(t)) = (self.owner(), &self.token) {
            cache.evict(o, t);
        }
        tracing::warn!(
            email = self.email.as_deref().unwrap_or(""),
            "Palette rejected the user's token; evicted, asking for re-auth"
        );
        self.reauth.store(true, Ordering::Relaxed);
    }

    pub fn needs_reauth(&self) -> bool {
        self.reauth.load(Ordering::Relaxed)
    }

    /// Cache key for this user's visibility (per environment elsewhere): the caller and the
    /// email, or the caller and a digest of the token.
    pub fn scope_key(&self) -> Option<String> {
        let token = self.token.as_ref()?;
        Some(match &self.email {
            Some(e) => format!("{}|{}", self.subject, e.to_ascii_lowercase()),
            None => {
                use sha2::Digest;
                let d = sha2::Sha256::digest(token.expose().as_bytes());
                format!("{}|token:{}", self.subject, hex::encode(&d[..16]))
            }
        })
    }
}
