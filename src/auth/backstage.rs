//! Backstage-issued JWTs, verified against the Backstage auth backend's JWKS: keys cached by
//! `kid` and re-read when an unknown `kid` shows up (key rotation), ES256 and RS256, `exp` and
//! `iss` always and `aud` when configured checked. Subject from `sub`, groups from `ent`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
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
    /// When the JWKS was last fetched; held during a fetch, so concurrent callers with the
    /// same new `kid` wait for it instead of failing.
    last_fetch: Mutex<Option<Instant>>,
    issuer: String,
}

/// Unknown `kid`s re-read the JWKS at most this often, so forged kids cannot make the service
/// hammer Backstage.
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
            last_fetch: Mutex::new(None),
            // Config validation guarantees one; an empty issuer matches no token.
            issuer: config.expected_issuer().unwrap_or_default(),
        }
    }

    /// Re-reads the JWKS unless `kid` arrived meanwhile or it was read moments ago.
    async fn refresh(&self, kid: &str) -> Result<(), JwtError> {
        let mut last = self.last_fetch.lock().await;
        if self.keys.read().await.contains_key(kid)
            || last.is_some_and(|t| t.elapsed() < MIN_REFRESH)
        {
            return Ok(());
        }
        *last = Some(Instant::now());
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
        v.set_required_spec_claims(&["exp", "sub", "iss"]);
        v.set_issuer(&[&self.issuer]);
        match &self.config.audience {
            Some(aud) => v.set_audience(&[aud]),
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
        })
    }
}
