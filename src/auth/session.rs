//! Fleet page sessions: a sign-in verifies the bearer once and issues a random session id
//! (256 bits from the thread's CSPRNG); the database keeps the id's SHA-256, the caller's
//! subject and groups and, for a static token, the token's SHA-256 — never the token. Each
//! page request rebuilds the caller from that row and today's configuration. Sessions end at
//! an absolute expiry, at sign-out, when their static token is rotated out, or when their
//! subject signs in more than `ui.max_sessions_per_subject` times.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use sha2::{Digest, Sha256};

use super::{AuthFailure, AuthMethod, Authenticator, Caller, Resumed};
use crate::config::UiConfig;
use crate::store::Db;
use crate::store::ui_sessions::{self, NewSession};

/// Random bytes in a session id.
const ID_BYTES: usize = 32;
/// Length of an id in the cookie (unpadded base64url of [`ID_BYTES`]).
const ID_CHARS: usize = 43;

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("{0}")]
    Refused(#[from] AuthFailure),
    #[error("mode `none` needs no sign-in")]
    NotNeeded,
    #[error("cannot store the session: {0}")]
    Store(#[from] sqlx::Error),
}

/// A session just issued: `id` goes into the cookie and nowhere else.
pub struct Issued {
    pub id: String,
    pub expires_at: i64,
    pub subject: String,
}

fn new_id() -> String {
    let mut bytes = [0u8; ID_BYTES];
    rand::rng().fill(&mut bytes[..]);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn id_hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

fn method_name(m: AuthMethod) -> &'static str {
    match m {
        AuthMethod::None => "none",
        AuthMethod::Static => "static",
        AuthMethod::Backstage => "backstage",
    }
}

fn method_of(name: &str) -> Option<AuthMethod> {
    match name {
        "static" => Some(AuthMethod::Static),
        "backstage" => Some(AuthMethod::Backstage),
        _ => None,
    }
}

/// When a session made at `now` ends: after the configured lifetime, or earlier when the
/// credential it was made from expires first.
pub fn expiry(now: i64, ttl_seconds: u64, credential_expires: Option<i64>) -> i64 {
    let by_ttl = now.saturating_add(i64::try_from(ttl_seconds).unwrap_or(i64::MAX));
    credential_expires.map_or(by_ttl, |c| c.min(by_ttl))
}

/// Verifies `token` as the API would and stores a new session for its caller.
pub async fn sign_in(
    auth: &Authenticator,
    db: &Db,
    ui: &UiConfig,
    token: &str,
) -> Result<Issued, SignInError> {
    let who = auth.identify(Some(&format!("Bearer {token}"))).await?;
    if who.caller.method == AuthMethod::None {
        return Err(SignInError::NotNeeded);
    }
    let now = chrono::Utc::now().timestamp();
    let expires_at = expiry(now, ui.session_ttl_seconds, who.expires_at);
    if expires_at <= now {
        return Err(SignInError::Refused(AuthFailure::Jwt(
            "token expired".into(),
        )));
    }
    let id = new_id();
    let hash = id_hash(&id);
    let groups = serde_json::to_string(&who.caller.groups).unwrap_or_else(|_| "[]".into());
    let digest = who.token_digest.map(hex::encode);
    let row = NewSession {
        id_hash: &hash,
        subject: &who.caller.subject,
        groups_json: &groups,
        method: method_name(who.caller.method),
        palette_user: who.caller.palette_user.as_deref(),
        token_digest: digest.as_deref(),
        created_at: now,
        expires_at,
    };
    let ended = ui_sessions::create(db, &row, ui.max_sessions_per_subject).await?;
    if ended > 0 {
        tracing::info!(subject = %who.caller.subject, ended, "oldest fleet page sessions ended: too many for one subject");
    }
    Ok(Issued {
        id,
        expires_at,
        subject: who.caller.subject,
    })
}

/// The caller of a session id from a cookie: None when unknown, expired, ended, or its
/// credential is no longer configured.
pub async fn resume(
    auth: &Authenticator,
    db: &Db,
    id: &str,
) -> Result<Option<Caller>, sqlx::Error> {
    if id.len() != ID_CHARS {
        return Ok(None);
    }
    let now = chrono::Utc::now().timestamp();
    let Some(row) = ui_sessions::find(db, &id_hash(id), now).await? else {
        return Ok(None);
    };
    let Some(method) = method_of(&row.method) else {
        return Ok(None);
    };
    let groups: Vec<String> = serde_json::from_str(&row.groups_json).unwrap_or_default();
    let digest: Option<[u8; 32]> = row
        .token_digest
        .as_deref()
        .and_then(|d| hex::decode(d).ok())
        .and_then(|d| d.try_into().ok());
    Ok(auth.resume(&Resumed {
        method,
        subject: &row.subject,
        groups: &groups,
        token_digest: digest.as_ref(),
    }))
}

/// Ends the session of `id`, whoever holds its cookie; true when there was one.
pub async fn end(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    if id.len() != ID_CHARS {
        return Ok(false);
    }
    ui_sessions::delete(db, &id_hash(id)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_long_random_and_cookie_safe() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), ID_CHARS);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(id_hash(&a), a);
    }

    #[test]
    fn a_session_ends_with_its_lifetime_or_its_credential() {
        assert_eq!(expiry(1_000, 3_600, None), 4_600);
        assert_eq!(expiry(1_000, 3_600, Some(2_000)), 2_000);
        assert_eq!(expiry(1_000, 3_600, Some(9_000)), 4_600);
    }
}
