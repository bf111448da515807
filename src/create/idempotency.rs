//! `Idempotency-Key`: the key's rules and a body's fingerprint (keys are kept in
//! `store::idempotency`).

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// How long a key repeats its first answer.
pub const TTL_SECONDS: i64 = 24 * 3600;

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
    fn keys_are_checked() {
        assert_eq!(parse_key(Some("abc-1")).unwrap().as_deref(), Some("abc-1"));
        assert!(parse_key(Some("")).is_err());
        assert!(parse_key(Some("a b")).is_err());
        assert!(parse_key(None).unwrap().is_none());
    }
}
