//! `Idempotency-Key`: the key's rules, who it belongs to, a body's fingerprint and when an
//! unanswered claim is abandoned (keys are kept in `store::idempotency`).

use std::sync::OnceLock;

use rand::Rng;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::auth::palette_user::PaletteUser;
use crate::error::AppError;

/// How long a key repeats its first answer.
pub const TTL_SECONDS: i64 = 24 * 3600;

/// Added to twice the creation call's deadline (the POST, then the write-through's read) to
/// make the age past which no process can still be working on a claim.
pub const STALE_MARGIN_SECONDS: i64 = 30;

/// This process instance, as it signs its claims (random per start).
pub fn instance() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| format!("{:016x}", rand::rng().random::<u64>()))
}

/// Who asks as Palette sees it: the user Palette verified for the token in use, else a digest
/// of that token (Palette may not have been asked yet), else the environment's API key.
pub fn identity(user: &PaletteUser) -> String {
    match (user.verified_uid(), &user.token) {
        (Some(uid), _) => format!("user:{uid}"),
        (None, Some(t)) => format!("token:{}", hex::encode(Sha256::digest(t.expose()))),
        (None, None) => "api_key".into(),
    }
}

/// Seconds after which an unanswered claim is abandoned: every creation call (POST and
/// write-through read) ends by its deadline, so an older claim is one whose process died.
pub fn stale_after(deadline_seconds: u64) -> i64 {
    i64::try_from(deadline_seconds)
        .unwrap_or(i64::MAX / 4)
        .saturating_mul(2)
        .saturating_add(STALE_MARGIN_SECONDS)
}

/// Whether a claim made at `since` is abandoned at `now`.
pub fn is_stale(since: i64, now: i64, deadline_seconds: u64) -> bool {
    now.saturating_sub(since) > stale_after(deadline_seconds)
}

/// A key is 1-255 visible ASCII characters.
pub fn parse_key(raw: Option<&str>) -> Result<Option<String>, AppError> {
    match raw {
        None => Ok(None),
        Some(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k.to_string()))
        }
        Some(_) => Err(AppError::bad_request(
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )),
    }
}

/// SHA-256 of the body with object keys sorted, so key order does not change it.
pub fn body_hash(body: &Value) -> String {
    let mut text = String::new();
    canonical(body, &mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                canonical(&m[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":{"c":[1,2],"d":"x"}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":{"d":"x","c":[1,2]},"a":1}"#).unwrap();
        assert_eq!(body_hash(&a), body_hash(&b));
        assert_ne!(body_hash(&a), body_hash(&json!({"a": 2})));
    }

    #[test]
    fn a_claim_is_abandoned_only_past_both_deadlines_and_the_margin() {
        assert_eq!(stale_after(30), 90);
        assert!(!is_stale(1000, 1090, 30));
        assert!(is_stale(1000, 1091, 30));
        assert!(
            !is_stale(1000, 900, 30),
            "a clock going back never frees a claim"
        );
    }

    #[test]
    fn identity_tells_the_key_and_each_token_apart() {
        let key = PaletteUser::none();
        assert_eq!(identity(&key), "api_key");
        let mut a = PaletteUser::none();
        a.token = Some(crate::config::Secret::new("token-a"));
        let mut b = PaletteUser::none();
        b.token = Some(crate::config::Secret::new("token-b"));
        assert!(identity(&a).starts_with("token:"));
        assert_ne!(identity(&a), identity(&b));
        assert!(!identity(&a).contains("token-a"));
    }

    #[test]
    fn keys_are_checked() {
        assert_eq!(parse_key(Some("abc-1")).unwrap().as_deref(), Some("abc-1"));
        assert!(parse_key(Some("")).is_err());
        assert!(parse_key(Some("a b")).is_err());
        assert!(parse_key(None).unwrap().is_none());
    }
}
