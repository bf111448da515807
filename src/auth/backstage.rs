//! Backstage-issued JWTs, verified against the Backstage auth backend's JWKS: keys cached by
//! `kid` and re-read when an unknown `kid` shows up (key rotation; one fetch at a time, spaced
//! from the previous one's end), ES256 and RS256, `exp`, `nbf` and `iss` always and `aud`
//! (required then) when configured checked. Subject from `sub`, groups from `ent`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{Mutex, RwLock};

use crate::config::BackstageAuthConfig;

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
}

/// What a verified token says about its holder.
pub struct Identity {
    pub subject: String,
    pub groups: Vec<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    ent: Vec<String>,
}

pub struct JwtVerifier {
    config: BackstageAuthConfig,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, (DecodingKey, Algorithm)>>,
    /// Held during a fetch: concurrent unknown `kid`s wait for that one fetch (single flight).
    fetching: Mutex<()>,
    /// When the last fetch ended (successfully or not), and how many fetches ended so far.
    last_end: std::sync::Mutex<Option<Instant>>,
    fetches: AtomicU64,
    issuer: String,
}

/// Unknown `kid`s re-read the JWKS at most this long after the previous fetch ENDED (a slow
/// JWKS cannot be asked back to back), and fail at once meanwhile, so forged kids cannot make
/// the service hammer Backstage or queue behind each other.
const MIN_REFRESH: Duration = Duration::from_secs(2);

impl JwtVerifier {
    pub fn new(config: &BackstageAuthConfig) -> JwtVerifier {
        JwtVerifier {
            config: config.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            keys: RwLock::new(HashMap::new()),
            fetching: Mutex::new(()),
            last_end: std::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
            // Config validation guarantees one; an empty issuer matches no token.
            issuer: config.expected_issuer().unwrap_or_default(),
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
            .get(&self.config.jwks_url)
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
        tracing::info!(keys = keys.len(), "Backstage JWKS loaded");
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

    pub async fn verify(&self, token: &str) -> Result<Identity, JwtError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| JwtError::Malformed(e.to_string()))?;
        if !matches!(header.alg, Algorithm::ES256 | Algorithm::RS256) {
            return Err(JwtError::Algorithm(header.alg));
        }
        let kid = header
            .kid
            .ok_or_else(|| JwtError::Malformed("no kid in header".into()))?;
        let (key, alg) = self.key(&kid).await?;
        if alg != header.alg {
            return Err(JwtError::Invalid(format!(
                "key {kid} is not a {:?} key",
                header.alg
            )));
        }
        let mut v = Validation::new(alg);
        v.leeway = 5;
        // A token not valid yet is refused like an expired one.
        v.validate_nbf = true;
        v.set_issuer(&[&self.issuer]);
        match &self.config.audience {
            Some(aud) => {
                // A configured audience must be named by the token: no `aud` is no match.
                v.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
                v.set_audience(&[aud]);
            }
            None => {
                v.set_required_spec_claims(&["exp", "sub", "iss"]);
                v.validate_aud = false;
            }
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
        })
    }
}
