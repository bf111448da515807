//! The Palette identity behind a request. The original frontend sends `X-SpectroCloud-Token`
//! and `X-SpectroCloud-User-Email`; here a token counts only for the identity Palette verified
//! for it (`/v1/users/me` of that token, see [`super::scope::verify`]), never for the email a
//! request claims. A token is cached only after Palette accepted it, only for a *personal*
//! caller (a static token with `palette_user`, or a Backstage `user:` subject), and it serves
//! that caller's later requests only; a shared caller (`auth.mode = "none"`, a service token,
//! a proxy) must carry the token on every request. `X-SpectroCloud-ReAuth-Required: true` is
//! answered when the request has no usable token although a Palette user was named, or the
//! token was refused (the request then uses the environment's API key, as the original does,
//! unless `require_user_token` is on).

use crate::palette::pacing::Party;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::http::header::HeaderMap;
use lru::LruCache;
use serde::Deserialize;

use super::scope::{Check, Identity};
use crate::config::Secret;
use crate::palette::Credential;

pub const EMAIL_HEADER: &str = "x-spectrocloud-user-email";
pub const TOKEN_HEADER: &str = "x-spectrocloud-token";
pub const REAUTH_HEADER: &str = "x-spectrocloud-reauth-required";

/// Palette's session tokens are ~300 bytes; anything far larger is refused unread.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// Lifetime assumed for a token whose `exp` cannot be read (Palette sessions last 15 minutes).
const DEFAULT_TTL_SECONDS: i64 = 15 * 60;
/// No entry outlives this, whatever `exp` a token claims.
pub const MAX_TTL_SECONDS: i64 = 24 * 3600;

/// Whose Palette user a caller is (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// One bearer identity for many people: nothing is cached for it.
    Shared,
    /// One person; `email` when configured (static `palette_user`), else whatever Palette
    /// verified for the first token this caller brought (and the email it claimed).
    Personal { email: Option<String> },
}

struct Cached {
    token: Secret,
    identity: Identity,
    expires_at: i64,
}

/// Palette session tokens of personal callers, by (environment, caller subject); LRU-capped.
pub struct TokenCache {
    entries: Mutex<LruCache<(String, String), Cached>>,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::new(10_000)
    }
}

#[derive(Deserialize)]
struct ExpClaim {
    exp: Option<i64>,
}

/// `exp` of a JWT read without verifying its signature (Palette's HS256 secret is not ours);
/// trusted only for a token Palette has accepted.
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

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn key(env: &str, subject: &str) -> (String, String) {
    (env.to_string(), subject.to_string())
}

impl TokenCache {
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// The still valid token of `subject` in `env`, with the identity Palette verified for it.
    pub fn get(&self, env: &str, subject: &str) -> Option<(Secret, Identity)> {
        let k = key(env, subject);
        let mut entries = self.entries.lock().ok()?;
        match entries.get(&k) {
            Some(c) if c.expires_at > now() => Some((c.token.clone(), c.identity.clone())),
            Some(_) => {
                entries.pop(&k);
                None
            }
            None => None,
        }
    }

    /// Caches a token Palette accepted as `identity`. Only HS256 session tokens (an RS256
    /// id_token the frontend may hold is used for its request, never kept); the entry lives
    /// until the token's `exp`, at most [`MAX_TTL_SECONDS`].
    fn store(&self, env: &str, subject: &str, token: &Secret, identity: &Identity) {
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
        if let Ok(mut entries) = self.entries.lock() {
            entries.put(
                key(env, subject),
                Cached {
                    token: token.clone(),
                    identity: identity.clone(),
                    expires_at,
                },
            );
        }
    }

    /// Forgets `subject`'s entry if it still holds `token` (a newer one stays).
    fn evict(&self, env: &str, subject: &str, token: &Secret) {
        if let Ok(mut entries) = self.entries.lock() {
            let k = key(env, subject);
            if entries.peek(&k).is_some_and(|c| c.token == *token) {
                entries.pop(&k);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenSource {
    Cache,
    Header,
}

fn same_email(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Whether a token verified as `verified` may be cached for a caller bound as `binding` that
/// claimed `claimed`: only its own Palette user, never under someone else's email.
fn may_cache(binding: &Binding, claimed: Option<&str>, verified: Option<&str>) -> bool {
    let Some(v) = verified else { return false };
    match binding {
        Binding::Shared => false,
        Binding::Personal { email: Some(e) } => same_email(e, v),
        Binding::Personal { email: None } => claimed.is_none_or(|c| same_email(c, v)),
    }
}

/// Whether a cached token verified as `cached` serves a request claiming `claimed`.
fn may_use_cached(binding: &Binding, claimed: Option<&str>, cached: Option<&str>) -> bool {
    matches!(binding, Binding::Personal { .. })
        && claimed.is_none_or(|c| cached.is_some_and(|v| same_email(c, v)))
}

/// What the request's carried token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carried {
    None,
    /// Larger than [`MAX_TOKEN_BYTES`]: never read, never sent.
    TooLarge,
    Checked(CheckKind),
}

/// [`Check`] without its payload, for the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    Verified,
    Rejected,
    Unknown,
}

/// Which token a request uses, decided from what it carried and what is cached (pure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub use_token: Option<TokenSource>,
    pub cache_carried: bool,
    pub reauth: bool,
}

/// The rules: a verified carried token is used (and cached when it is the caller's own);
/// otherwise a cached token the caller may use; otherwise the carried token as it is (Palette
/// decides; a refused one asks for re-auth); otherwise none, asking for re-auth when a Palette
/// user was named.
pub fn plan(
    binding: &Binding,
    claimed: Option<&str>,
    carried: &Carried,
    carried_verified: Option<&str>,
    cached: Option<Option<&str>>,
) -> Plan {
    let cached_usable = cached.is_some_and(|c| may_use_cached(binding, claimed, c));
    match carried {
        Carried::Checked(CheckKind::Verified) => Plan {
            use_token: Some(TokenSource::Header),
            cache_carried: may_cache(binding, claimed, carried_verified),
            reauth: false,
        },
        _ if cached_usable => Plan {
            use_token: Some(TokenSource::Cache),
            cache_carried: false,
            reauth: false,
        },
        Carried::Checked(kind) => Plan {
            use_token: Some(TokenSource::Header),
            cache_carried: false,
            reauth: *kind == CheckKind::Rejected,
        },
        Carried::TooLarge => Plan {
            use_token: None,
            cache_carried: false,
            reauth: true,
        },
        Carried::None => Plan {
            use_token: None,
            cache_carried: false,
            reauth: claimed.is_some() || cached.is_some(),
        },
    }
}

/// The Palette identity of one request.
pub struct PaletteUser {
    /// The email Palette verified for the token in use (None without a verified token).
    pub email: Option<String>,
    /// The email the request claimed (`X-SpectroCloud-User-Email`), unverified.
    pub claimed_email: Option<String>,
    pub token: Option<Secret>,
    pub source: Option<TokenSource>,
    /// What Palette said about the token in use.
    pub check: Option<Check>,
    env: String,
    subject: String,
    reauth: AtomicBool,
    audited: AtomicBool,
}

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Inputs of [`PaletteUser::resolve`].
pub struct Request<'a> {
    pub headers: &'a HeaderMap,
    pub env: Option<&'a crate::palette::Environment>,
    pub subject: &'a str,
    pub binding: &'a Binding,
}

impl PaletteUser {
    /// Resolves the request's Palette user (see [`plan`]); verifies tokens with Palette.
    pub async fn resolve(
        r: Request<'_>,
        tokens: &TokenCache,
        scopes: &super::scope::ScopeCache,
        db: &crate::store::Db,
    ) -> PaletteUser {
        let claimed = header(r.headers, EMAIL_HEADER).map(str::to_string);
        let mut user = PaletteUser::none();
        user.claimed_email = claimed.clone();
        user.subject = r.subject.to_string();
        let Some(env) = r.env.filter(|e| e.config.user_tokens) else {
            return user;
        };
        user.env = env.name().to_string();
        let raw = header(r.headers, TOKEN_HEADER);
        let (carried, check) = match raw {
            None => (Carried::None, None),
            Some(t) if t.len() > MAX_TOKEN_BYTES => (Carried::TooLarge, None),
            Some(t) => {
                let t = Secret::new(t);
                let c =
                    super::scope::verify(scopes, db, env, &t, claimed.as_deref(), r.subject).await;
                (Carried::Checked(c.kind()), Some((t, c)))
            }
        };
        let cached = tokens.get(env.name(), r.subject);
        let carried_email = check.as_ref().and_then(|(_, c)| c.email());
        let p = plan(
            r.binding,
            claimed.as_deref(),
            &carried,
            carried_email,
            cached.as_ref().map(|(_, id)| id.email.as_deref()),
        );
        if p.cache_carried
            && let Some((t, Check::Verified(id))) = &check
        {
            tokens.store(env.name(), r.subject, t, id);
        }
        match p.use_token {
            Some(TokenSource::Header) => {
                if let Some((t, c)) = check {
                    user.token = Some(t);
                    user.check = Some(c);
                }
            }
            Some(TokenSource::Cache) => {
                if let Some((t, _)) = cached {
                    // Re-checked when its verification is stale; a refused one is dropped.
                    let c =
                        super::scope::verify(scopes, db, env, &t, claimed.as_deref(), r.subject)
                            .await;
                    if c.kind() == CheckKind::Rejected {
                        tokens.evict(env.name(), r.subject, &t);
                        user.reauth.store(true, Ordering::Relaxed);
                        return user;
                    }
                    user.token = Some(t);
                    user.check = Some(c);
                }
            }
            None => {}
        }
        user.source = user.token.as_ref().and(p.use_token);
        user.email = user
            .check
            .as_ref()
            .and_then(|c| c.email().map(str::to_string));
        if p.reauth {
            tracing::warn!(
                claimed = claimed.as_deref().unwrap_or(""),
                "no usable Palette token for this request; asking for re-auth"
            );
            user.reauth.store(true, Ordering::Relaxed);
        }
        user
    }

    /// No Palette user: the environment's API key.
    pub fn none() -> PaletteUser {
        PaletteUser {
            email: None,
            claimed_email: None,
            token: None,
            source: None,
            check: None,
            env: String::new(),
            subject: String::new(),
            reauth: AtomicBool::new(false),
            audited: AtomicBool::new(false),
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

    /// Whose fair share of Palette's budget this user's calls count against: the bearer
    /// subject, then the verified Palette user. Unverified tokens share one part per subject
    /// (forging tokens must not buy a flood more shares), as do calls with the key.
    pub fn party(&self) -> Party {
        let user = match (&self.email, &self.token) {
            (Some(email), _) => email.as_str(),
            (None, Some(_)) => "(unverified token)",
            (None, None) => "(environment key)",
        };
        Party::new(&self.subject, user)
    }

    /// A token Palette has not refused: what `require_user_token` asks for.
    pub fn usable(&self) -> bool {
        self.token.is_some()
            && self
                .check
                .as_ref()
                .is_some_and(|c| c.kind() != CheckKind::Rejected)
    }

    /// The Palette user uid Palette verified, if any.
    pub fn verified_uid(&self) -> Option<&str> {
        match &self.check {
            Some(Check::Verified(id)) => Some(&id.uid),
            _ => None,
        }
    }

    /// Palette answered 401 to this user's token: forget it and ask the frontend to re-auth.
    pub fn rejected(&self, cache: &TokenCache) {
        if let Some(t) = &self.token {
            cache.evict(&self.env, &self.subject, t);
        }
        tracing::warn!(
            palette_user = self.email.as_deref().unwrap_or(""),
            "Palette rejected the user's token; evicted, asking for re-auth"
        );
        self.reauth.store(true, Ordering::Relaxed);
    }

    pub fn needs_reauth(&self) -> bool {
        self.reauth.load(Ordering::Relaxed)
    }

    pub fn ask_reauth(&self) {
        self.reauth.store(true, Ordering::Relaxed);
    }

    /// Marks that the request's action was written to the audit log.
    pub fn mark_audited(&self) {
        self.audited.store(true, Ordering::Relaxed);
    }

    pub fn audited(&self) -> bool {
        self.audited.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "alice@acme.example";
    const B: &str = "bob@acme.example";

    fn personal(e: Option<&str>) -> Binding {
        Binding::Personal {
            email: e.map(str::to_string),
        }
    }

    #[test]
    fn an_email_alone_with_a_shared_subject_is_no_token() {
        let p = plan(
            &Binding::Shared,
            Some(A),
            &Carried::None,
            None,
            Some(Some(A)),
        );
        assert_eq!(p.use_token, None);
        assert!(p.reauth);
    }

    #[test]
    fn a_planted_token_is_never_cached_under_another_email() {
        let v = Carried::Checked(CheckKind::Verified);
        for b in [Binding::Shared, personal(None), personal(Some(A))] {
            let p = plan(&b, Some(A), &v, Some(B), None);
            assert_eq!(p.use_token, Some(TokenSource::Header));
            assert!(!p.cache_carried, "{b:?}");
        }
        assert!(plan(&personal(None), Some(A), &v, Some(A), None).cache_carried);
        assert!(plan(&personal(Some(A)), None, &v, Some(A), None).cache_carried);
        assert!(!plan(&personal(Some(B)), None, &v, Some(A), None).cache_carried);
    }

    #[test]
    fn a_refused_token_never_replaces_a_verified_one() {
        let r = Carried::Checked(CheckKind::Rejected);
        let p = plan(&personal(Some(A)), Some(A), &r, None, Some(Some(A)));
        assert_eq!(p.use_token, Some(TokenSource::Cache));
        assert!(!p.cache_carried && !p.reauth);
        // Without a cached one the refused token stands for its request and asks for re-auth.
        let p = plan(&personal(Some(A)), Some(A), &r, None, None);
        assert_eq!(p.use_token, Some(TokenSource::Header));
        assert!(p.reauth);
    }

    #[test]
    fn a_cached_token_serves_only_its_own_email() {
        let p = plan(
            &personal(None),
            Some(B),
            &Carried::None,
            None,
            Some(Some(A)),
        );
        assert_eq!(p.use_token, None);
        assert!(p.reauth);
        let p = plan(&personal(None), None, &Carried::None, None, Some(Some(A)));
        assert_eq!(p.use_token, Some(TokenSource::Cache));
    }

    #[test]
    fn an_oversized_token_is_refused() {
        let p = plan(&Binding::Shared, None, &Carried::TooLarge, None, None);
        assert_eq!(p.use_token, None);
        assert!(p.reauth);
    }

    #[test]
    fn the_token_cache_is_bounded() {
        let c = TokenCache::new(3);
        let id = Identity {
            email: Some(A.into()),
            uid: "u1".into(),
            visibility: super::super::scope::Visibility::All,
        };
        let tok = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &serde_json::json!({"exp": now() + 600}),
            &jsonwebtoken::EncodingKey::from_secret(b"k").unwrap(),
        )
        .unwrap();
        for i in 0..10 {
            c.store("e", &format!("s{i}"), &Secret::new(tok.clone()), &id);
        }
        assert_eq!(c.len(), 3);
        assert!(c.get("e", "s9").is_some() && c.get("e", "s0").is_none());
    }
}
