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
const SWEEP_EVERY: Duration = Duration::from_secs(60);

struct Cached {
    token: Secret,
    expires_at: i64,
}

/// Palette session tokens by user email (case-insensitive), shared by every request.
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

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl TokenCache {
    /// A still valid token for `email`; an expired entry is removed.
    pub fn get(&self, email: &str) -> Option<Secret> {
        let key = email.to_ascii_lowercase();
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

    /// Caches `token` for `email` unless it is already expired or a longer-lived one is cached.
    pub fn store(&self, email: &str, token: &Secret) {
        let expires_at =
            token_expiry(token.expose()).unwrap_or_else(|| now() + DEFAULT_TTL_SECONDS);
        if expires_at <= now() {
            return;
        }
        self.sweep();
        if let Ok(mut entries) = self.entries.lock() {
            let key = email.to_ascii_lowercase();
            let keep_old = entries
                .get(&key)
                .is_some_and(|c| c.expires_at > expires_at && c.token != *token);
            if !keep_old {
                entries.insert(
                    key,
                    Cached {
                        token: token.clone(),
                        expires_at,
                    },
                );
            }
        }
    }

    pub fn evict(&self, email: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&email.to_ascii_lowercase());
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
    /// `X-SpectroCloud-Token` header (cached under the email when one is sent); re-auth is
    /// asked for exactly when an email was sent and neither gave a token.
    pub fn resolve(headers: &HeaderMap, cache: &TokenCache) -> PaletteUser {
        let email = header(headers, EMAIL_HEADER).map(str::to_string);
        let header_token = header(headers, TOKEN_HEADER).map(Secret::new);
        let cached = email.as_deref().and_then(|e| cache.get(e));
        if let (Some(e), Some(t)) = (&email, &header_token) {
            cache.store(e, t);
        }
        let (token, source) = match (cached, header_token) {
            (Some(t), _) => (Some(t), Some(TokenSource::Cache)),
            (None, Some(t)) => (Some(t), Some(TokenSource::Header)),
            (None, None) => (None, None),
        };
        let reauth = email.is_some() && token.is_none();
        if reauth {
            tracing::warn!(
                email = email.as_deref().unwrap_or(""),
                "no Palette token for this user; using the environment key and asking for re-auth"
            );
        }
        PaletteUser {
            email,
            token,
            source,
            reauth: AtomicBool::new(reauth),
        }
    }

    /// No Palette user: the environment's API key.
    pub fn none() -> PaletteUser {
        PaletteUser {
            email: None,
            token: None,
            source: None,
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
        if let Some(e) = &self.email {
            cache.evict(e);
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

    /// Cache key for this user's visibility: the email, or a digest of the token.
    pub fn scope_key(&self) -> Option<String> {
        let token = self.token.as_ref()?;
        Some(match &self.email {
            Some(e) => e.to_ascii_lowercase(),
            None => {
                use sha2::Digest;
                let d = sha2::Sha256::digest(token.expose().as_bytes());
                format!("token:{}", hex::encode(&d[..16]))
            }
        })
    }
}
