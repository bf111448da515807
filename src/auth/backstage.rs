//! Backstage-issued JWTs, verified against the Backstage auth backend's JWKS: keys cached by
//! `kid` and re-read when an unknown `kid` shows up (key rotation; one fetch at a time, spaced
//! from the previous one's end), ES256 and RS256, `exp`, `nbf` and `iss` always and `aud`
//! (required then) when configured checked. Subject from `sub`, groups from `ent`.
//!
//! Backstage plugin-to-plugin tokens (`typ: vnd.backstage.plugin`, e.g. `mcp-actions`
//! calling the actions registry) are verified against the calling plugin's own JWKS, for the
//! trusted plugins only; their `obo` user token (limited: `sub`, `iat`, `exp`) against the
//! auth backend's keys. The user is then the caller; the plugin, its actor.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{Mutex, RwLock};

use crate::config::{BackstageAuthConfig, PluginTokensConfig};

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("algorithm {0:?} is not accepted (ES256, RS256)")]
    Algorithm(Algorithm),
    #[error("no key with kid `{0}` in the JWKS")]
    UnknownKey(String),
    #[error("cannot fetch the JWKS: {0}")]
    Jwks(String),
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("plugin `{0}` is not in auth.plugin_tokens.trusted_plugins")]
    UntrustedPlugin(String),
    #[error("the user token inside the plugin token (obo): {0}")]
    OnBehalfOf(Box<JwtError>),
}

/// The earlier of two expiry times, either possibly unknown.
fn min_exp(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What a verified token says about its holder.
pub struct Identity {
    pub subject: String,
    pub groups: Vec<String>,
    /// The plugin that called on the subject's behalf (`plugin:mcp-actions`).
    pub actor: Option<String>,
    /// The token's `exp` (unix seconds): a fleet page session never outlives it.
    pub expires_at: Option<i64>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    ent: Vec<String>,
    #[serde(default)]
    exp: Option<i64>,
}

/// One JWKS: keys by `kid`, re-read when an unknown `kid` shows up.
struct KeySet {
    url: String,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, (DecodingKey, Algorithm)>>,
    /// Held during a fetch: concurrent unknown `kid`s wait for that one fetch (single flight).
    fetching: Mutex<()>,
    /// When the last fetch ended (successfully or not), and how many fetches ended so far.
    last_end: std::sync::Mutex<Option<Instant>>,
    fetches: AtomicU64,
}

pub struct JwtVerifier {
    config: BackstageAuthConfig,
    /// The auth backend's keys: user tokens, and the user tokens inside plugin tokens.
    auth: KeySet,
    /// One key set per trusted calling plugin, made at start: as many as the configuration
    /// names, never more (a forged `sub` cannot add one).
    plugins: HashMap<String, KeySet>,
    /// Our plugin id: the `aud` of plugin tokens minted for us.
    plugin_id: String,
    issuer: String,
}

/// Unknown `kid`s re-read the JWKS at most this long after the previous fetch ENDED (a slow
/// JWKS cannot be asked back to back), and fail at once meanwhile, so forged kids cannot make
/// the service hammer Backstage or queue behind each other.
const MIN_REFRESH: Duration = Duration::from_secs(2);

impl KeySet {
    fn new(url: String, http: reqwest::Client) -> KeySet {
        KeySet {
            url,
            http,
            keys: RwLock::new(HashMap::new()),
            fetching: Mutex::new(()),
            last_end: std::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    fn fetched_recently(&self) -> bool {
        self.last_end
            .lock()
            .map(|l| l.is_some_and(|t| t.elapsed() < MIN_REFRESH))
            .unwrap_or(false)
    }

    /// Re-reads the JWKS unless `kid` arrived meanwhile, another caller's fetch ended while
    /// this one waited, or a fetch ended moments ago.
    async fn refresh(&self, kid: &str) -> Result<(), JwtError> {
        if self.fetched_recently() {
            return Ok(());
        }
        let seen = self.fetches.load(Ordering::Acquire);
        let _one = self.fetching.lock().await;
        if self.fetches.load(Ordering::Acquire) != seen
            || self.fetched_recently()
            || self.keys.read().await.contains_key(kid)
        {
            return Ok(());
        }
        let result = self.fetch().await;
        if let Ok(mut l) = self.last_end.lock() {
            *l = Some(Instant::now());
        }
        self.fetches.fetch_add(1, Ordering::Release);
        result
    }

    async fn fetch(&self) -> Result<(), JwtError> {
        let set: JwkSet = self
            .http
            .get(&self.url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| JwtError::Jwks(e.without_url().to_string()))?
            .json()
            .await
            .map_err(|e| JwtError::Jwks(e.to_string()))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let alg = match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                _ => continue,
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, (key, alg));
            }
        }
        tracing::info!(keys = keys.len(), url = %self.url, "Backstage JWKS loaded");
        *self.keys.write().await = keys;
        Ok(())
    }

    async fn key(&self, kid: &str) -> Result<(DecodingKey, Algorithm), JwtError> {
        if let Some(k) = self.keys.read().await.get(kid) {
            return Ok(k.clone());
        }
        self.refresh(kid).await?;
        self.keys
            .read()
            .await
            .get(kid)
            .cloned()
            .ok_or_else(|| JwtError::UnknownKey(kid.to_string()))
    }

    /// The key of a token's header, checked against the header's algorithm.
    async fn key_for(&self, header: &Header) -> Result<(DecodingKey, Algorithm), JwtError> {
        if !matches!(header.alg, Algorithm::ES256 | Algorithm::RS256) {
            return Err(JwtError::Algorithm(header.alg));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| JwtError::Malformed("no kid in header".into()))?;
        let (key, alg) = self.key(kid).await?;
        if alg != header.alg {
            return Err(JwtError::Invalid(format!(
                "key {kid} is not a {:?} key",
                header.alg
            )));
        }
        Ok((key, alg))
    }
}

/// Token types Backstage puts in the JWT header (`typ`).
pub const PLUGIN_TYP: &str = "vnd.backstage.plugin";
pub const LIMITED_USER_TYP: &str = "vnd.backstage.limited-user";

fn validation(alg: Algorithm, required: &[&str]) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = 5;
    // A token not valid yet is refused like an expired one.
    v.validate_nbf = true;
    v.set_required_spec_claims(required);
    v
}

/// The `sub` of a token, read before its signature is checked: only to pick the key set.
fn unverified_subject(token: &str) -> Result<String, JwtError> {
    use base64::Engine;
    #[derive(Deserialize)]
    struct Sub {
        sub: String,
    }
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| JwtError::Malformed("not a JWT".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| JwtError::Malformed(e.to_string()))?;
    serde_json::from_slice::<Sub>(&bytes)
        .map(|s| s.sub)
        .map_err(|e| JwtError::Malformed(format!("no subject: {e}")))
}

#[derive(Deserialize)]
struct PluginClaims {
    sub: String,
    /// Required by Backstage; its value is not used.
    #[allow(dead_code)]
    iat: i64,
    /// The (limited) token of the user on whose behalf the plugin calls.
    obo: Option<String>,
    #[serde(default)]
    exp: Option<i64>,
}

impl JwtVerifier {
    pub fn new(config: &BackstageAuthConfig, plugins: &PluginTokensConfig) -> JwtVerifier {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        let plugin_sets = plugins
            .trusted_plugins
            .iter()
            .filter_map(|p| {
                let Some(url) = plugins.jwks_url(config, p) else {
                    // A non-standard jwks_url and no plugin_url: nowhere to find its keys.
                    tracing::warn!(plugin = %p, "plugin tokens refused: set auth.plugin_tokens.plugin_url");
                    return None;
                };
                Some((p.clone(), KeySet::new(url, http.clone())))
            })
            .collect();
        JwtVerifier {
            config: config.clone(),
            auth: KeySet::new(config.jwks_url.clone(), http),
            plugins: plugin_sets,
            plugin_id: plugins.plugin_id.clone(),
            // Config validation guarantees one; an empty issuer matches no token.
            issuer: config.expected_issuer().unwrap_or_default(),
        }
    }

    /// A user token, a Backstage plugin token (with or without a user on whose behalf it
    /// calls) — told apart by the header's `typ`, as Backstage does.
    pub async fn verify(&self, token: &str) -> Result<Identity, JwtError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| JwtError::Malformed(e.to_string()))?;
        if header.typ.as_deref() == Some(PLUGIN_TYP) {
            return self.verify_plugin(token, &header).await;
        }
        self.verify_user(token, &header).await
    }

    /// A plugin token: signed by the calling plugin's own key (its JWKS at
    /// `<plugin base>/.backstage/auth/v1/jwks.json`), `aud` = our plugin id; with `obo`,
    /// the caller is that user and the plugin its actor.
    async fn verify_plugin(&self, token: &str, header: &Header) -> Result<Identity, JwtError> {
        let plugin = unverified_subject(token)?;
        let keys = self
            .plugins
            .get(&plugin)
            .ok_or_else(|| JwtError::UntrustedPlugin(plugin.chars().take(64).collect()))?;
        let (key, alg) = keys.key_for(header).await?;
        let mut v = validation(alg, &["exp", "sub", "aud"]);
        v.set_audience(&[&self.plugin_id]);
        let claims = jsonwebtoken::decode::<PluginClaims>(token, &key, &v)
            .map_err(|e| JwtError::Invalid(e.to_string()))?
            .claims;
        let actor = format!("plugin:{}", claims.sub);
        match claims.obo {
            Some(user_token) => {
                let user = self
                    .verify_on_behalf(&user_token)
                    .await
                    .map_err(|e| JwtError::OnBehalfOf(Box::new(e)))?;
                Ok(Identity {
                    actor: Some(actor),
                    expires_at: min_exp(user.expires_at, claims.exp),
                    ..user
                })
            }
            None => Ok(Identity {
                subject: actor,
                groups: Vec::new(),
                actor: None,
                expires_at: claims.exp,
            }),
        }
    }

    /// The `obo` of a plugin token: a limited user token (`sub`, `iat`, `exp` only, signed
    /// with the auth backend's key) or, from older Backstage, the full user token.
    async fn verify_on_behalf(&self, token: &str) -> Result<Identity, JwtError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| JwtError::Malformed(e.to_string()))?;
        if header.typ.as_deref() != Some(LIMITED_USER_TYP) {
            return self.verify_user(token, &header).await;
        }
        let (key, alg) = self.auth.key_for(&header).await?;
        let mut v = validation(alg, &["exp", "sub"]);
        v.validate_aud = false;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &v)
            .map_err(|e| JwtError::Invalid(e.to_string()))?;
        Ok(Identity {
            subject: data.claims.sub,
            groups: Vec::new(),
            actor: None,
            expires_at: data.claims.exp,
        })
    }

    /// A user token of the auth backend: `iss` always, `aud` when configured.
    async fn verify_user(&self, token: &str, header: &Header) -> Result<Identity, JwtError> {
        let (key, alg) = self.auth.key_for(header).await?;
        let mut v = validation(alg, &["exp", "sub", "iss"]);
        v.set_issuer(&[&self.issuer]);
        match &self.config.audience {
            Some(aud) => {
                // A configured audience must be named by the token: no `aud` is no match.
                v.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
                v.set_audience(&[aud]);
            }
            None => v.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<Claims>(token, &key, &v)
            .map_err(|e| JwtError::Invalid(e.to_string()))?;
        let groups = data
            .claims
            .ent
            .into_iter()
            .filter(|e| *e != data.claims.sub)
            .collect();
        Ok(Identity {
            subject: data.claims.sub,
            groups,
            actor: None,
            expires_at: data.claims.exp,
        })
    }
}
