//! Caller authentication (static bearer tokens, Backstage-issued JWTs, or none on loopback),
//! Palette user tokens, per-user visibility, the permissions and the audit log.

pub mod audit;
pub mod backstage;
pub mod palette_user;
pub mod permissions;
pub mod scope;
pub mod session;

use std::collections::BTreeSet;

use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{AuthConfig, AuthMode, PermissionsConfig};
use crate::domain::Permission;

/// Who is calling, and what they may do.
#[derive(Debug, Clone, Serialize)]
pub struct Caller {
    pub subject: String,
    pub groups: Vec<String>,
    pub permissions: BTreeSet<Permission>,
    pub method: AuthMethod,
    /// Whether this caller is one person (see [`palette_user::Binding`]): a static token with
    /// `palette_user`, or a Backstage `user:` subject. Shared callers get no cached tokens.
    pub personal: bool,
    /// The Palette user (email) configured for a static token.
    pub palette_user: Option<String>,
    /// The Backstage plugin calling on this caller's behalf (`plugin:mcp-actions`), from a
    /// plugin token's `obo`; permissions and audit are the caller's, never the plugin's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl Caller {
    pub fn may(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    pub fn binding(&self) -> palette_user::Binding {
        if self.personal {
            palette_user::Binding::Personal {
                email: self.palette_user.clone(),
            }
        } else {
            palette_user::Binding::Shared
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    None,
    Static,
    Backstage,
}

/// Why authentication failed; logged (never with the token), answered as a plain 401.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    #[error("no Authorization header")]
    Missing,
    #[error("Authorization header is not `Bearer <token>`")]
    Malformed,
    #[error("bearer token matches no configured token")]
    UnknownToken,
    #[error("JWT rejected: {0}")]
    Jwt(String),
}

impl AuthFailure {
    /// What the 401 tells the caller: which of missing, malformed or not accepted, and what to
    /// do; never whose token it was or why a signature failed.
    pub fn answer(&self) -> &'static str {
        match self {
            AuthFailure::Missing => {
                "authentication required: send an Authorization: Bearer <token> header"
            }
            AuthFailure::Malformed => {
                "the Authorization header is not of the form `Bearer <token>`: put `Bearer ` before the token"
            }
            AuthFailure::UnknownToken => {
                "the bearer token is not accepted by this service: check it for a typo, or ask for the current one if it was rotated"
            }
            AuthFailure::Jwt(_) => {
                "the bearer token was not accepted (expired, not signed for this service, or not a token at all): get a fresh one"
            }
        }
    }
}

/// An authenticated bearer, with what a session keeps of it.
pub struct Identified {
    pub caller: Caller,
    /// SHA-256 of a static token (never the token).
    pub token_digest: Option<[u8; 32]>,
    /// When the credential stops being valid (a Backstage token's `exp`), unix seconds.
    pub expires_at: Option<i64>,
}

/// A stored sign-in to rebuild a caller from.
pub struct Resumed<'a> {
    pub method: AuthMethod,
    pub subject: &'a str,
    pub groups: &'a [String],
    pub token_digest: Option<&'a [u8; 32]>,
}

struct StaticEntry {
    digest: [u8; 32],
    subject: String,
    groups: Vec<String>,
    palette_user: Option<String>,
}

pub struct Authenticator {
    mode: AuthMode,
    statics: Vec<StaticEntry>,
    backstage: Option<backstage::JwtVerifier>,
    permissions: PermissionsConfig,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Authenticator {
    pub fn new(auth: &AuthConfig, permissions: &PermissionsConfig) -> Authenticator {
        Authenticator {
            mode: auth.mode,
            statics: auth
                .tokens
                .iter()
                .map(|t| StaticEntry {
                    digest: digest(t.token.expose()),
                    subject: t.subject.clone(),
                    groups: t.groups.clone(),
                    palette_user: t.palette_user.clone(),
                })
                .collect(),
            backstage: match (auth.mode, &auth.backstage) {
                (AuthMode::Backstage, Some(b)) => {
                    Some(backstage::JwtVerifier::new(b, &auth.plugin_tokens))
                }
                _ => None,
            },
            permissions: permissions.clone(),
        }
    }

    fn caller(
        &self,
        subject: String,
        groups: Vec<String>,
        method: AuthMethod,
        palette_user: Option<String>,
    ) -> Caller {
        let permissions = permissions::resolve(&self.permissions, &subject, &groups);
        // A Backstage user token is issued to one person; a static token only when the
        // configuration names its Palette user; `none` is everyone at once.
        let personal = match method {
            AuthMethod::None => false,
            AuthMethod::Static => palette_user.is_some(),
            AuthMethod::Backstage => subject.starts_with("user:"),
        };
        Caller {
            subject,
            groups,
            permissions,
            method,
            personal,
            palette_user,
            actor: None,
        }
    }

    /// Authenticates the `Authorization` header value.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Caller, AuthFailure> {
        self.identify(header).await.map(|i| i.caller)
    }

    /// [`Authenticator::authenticate`], with what a fleet page session needs to rebuild the
    /// caller later without the bearer token.
    pub async fn identify(&self, header: Option<&str>) -> Result<Identified, AuthFailure> {
        if self.mode == AuthMode::None {
            return Ok(Identified {
                caller: self.caller("anonymous".into(), Vec::new(), AuthMethod::None, None),
                token_digest: None,
                expires_at: None,
            });
        }
        let header = header.ok_or(AuthFailure::Missing)?;
        let token = match header.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
                t.trim()
            }
            _ => return Err(AuthFailure::Malformed),
        };
        let presented = digest(token);
        if let Some(e) = self.static_entry(&presented) {
            return Ok(Identified {
                caller: self.caller(
                    e.subject.clone(),
                    e.groups.clone(),
                    AuthMethod::Static,
                    e.palette_user.clone(),
                ),
                token_digest: Some(presented),
                expires_at: None,
            });
        }
        match &self.backstage {
            Some(v) => {
                let identity = v
                    .verify(token)
                    .await
                    .map_err(|e| AuthFailure::Jwt(e.to_string()))?;
                if let Some(actor) = &identity.actor {
                    tracing::debug!(subject = %identity.subject, actor = %actor, "Backstage plugin calls on behalf of a user");
                }
                Ok(Identified {
                    caller: Caller {
                        actor: identity.actor,
                        ..self.caller(
                            identity.subject,
                            identity.groups,
                            AuthMethod::Backstage,
                            None,
                        )
                    },
                    token_digest: None,
                    expires_at: identity.expires_at,
                })
            }
            None => Err(AuthFailure::UnknownToken),
        }
    }

    /// The static token of this digest, compared in constant time against every entry
    /// without stopping early.
    fn static_entry(&self, presented: &[u8; 32]) -> Option<&StaticEntry> {
        let mut found: Option<&StaticEntry> = None;
        for e in &self.statics {
            if bool::from(e.digest.ct_eq(presented)) {
                found = Some(e);
            }
        }
        found
    }

    /// The caller of a stored sign-in, under today's configuration: a static token must still
    /// be configured (rotating it ends its sessions), and permissions are decided afresh.
    pub fn resume(&self, s: &Resumed<'_>) -> Option<Caller> {
        match s.method {
            AuthMethod::Static => {
                let e = self.static_entry(s.token_digest?)?;
                Some(self.caller(
                    e.subject.clone(),
                    e.groups.clone(),
                    AuthMethod::Static,
                    e.palette_user.clone(),
                ))
            }
            AuthMethod::Backstage if self.backstage.is_some() => Some(self.caller(
                s.subject.to_string(),
                s.groups.to_vec(),
                AuthMethod::Backstage,
                None,
            )),
            AuthMethod::Backstage | AuthMethod::None => None,
        }
    }
}
