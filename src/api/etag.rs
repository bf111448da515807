//! Strong `ETag`s on mirror answers and `If-None-Match` → 304, so a dashboard polling an
//! unchanged mirror gets no body at all. The tag is a hash of the exact bytes (before
//! compression), so it changes whenever the answer does — after a sync or a write-through.

use std::hash::{Hash, Hasher};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

use super::respond::SOURCE;

/// The tag of a body: its length and a 64-bit hash, quoted (strong).
pub fn tag(body: &[u8]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:x}-{:016x}\"", body.len(), h.finish())
}

/// Whether an `If-None-Match` value matches `tag` (a list, or `*`).
pub fn matches(if_none_match: &str, tag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == tag || t.strip_prefix("W/") == Some(tag))
}

pub async fn etag(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let cacheable = matches!(*req.method(), Method::GET | Method::HEAD);
    let asked = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let res = next.call(req).await?.map_into_boxed_body();
    // Tagged inside already (the response cache, whose body may be compressed).
    if res.headers().contains_key(header::ETAG) {
        return Ok(res);
    }
    let mirror = res.headers().get(SOURCE).is_some_and(|v| v == "mirror");
    if !cacheable || !mirror || res.status() != StatusCode::OK {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    // Mirror answers are whole buffers; anything else passes untouched.
    let bytes = match body.try_into_bytes() {
        Ok(b) => b,
        Err(body) => return Ok(ServiceResponse::new(req, head.set_body(body))),
    };
    let tag = tag(&bytes);
    let value = HeaderValue::from_str(&tag).map_err(actix_web::error::ErrorInternalServerError)?;
    if asked.as_deref().is_some_and(|a| matches(a, &tag)) {
        return Ok(ServiceResponse::new(
            req,
            not_modified(head.headers(), value),
        ));
    }
    head.headers_mut().insert(header::ETAG, value);
    Ok(ServiceResponse::new(
        req,
        head.set_body(BoxBody::new(bytes)),
    ))
}

/// The 304 of an answer with these headers and this tag (no body, so no type or length).
pub fn not_modified(headers: &HeaderMap, tag: HeaderValue) -> HttpResponse {
    let mut not_modified = HttpResponse::NotModified();
    for (k, v) in headers {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            not_modified.append_header((k.clone(), v.clone()));
        }
    }
    not_modified.insert_header((header::ETAG, tag));
    not_modified.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_bytes_and_match_lists() {
        let a = tag(b"{\"clusters\":[]}");
        assert_eq!(a, tag(b"{\"clusters\":[]}"));
        assert_ne!(a, tag(b"{\"clusters\":[1]}"));
        assert!(a.starts_with('"') && a.ends_with('"'));
        assert!(matches(&a, &a));
        assert!(matches(&format!("\"x\", {a}"), &a));
        assert!(matches("*", &a));
        assert!(!matches("\"other\"", &a));
    }
}
