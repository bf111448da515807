//! Bad answers a real Palette, or a gateway in front of it, sometimes gives: a scalar or an
//! error object where a list belongs, a huge or endless body, pages that never end, an error
//! that repeats the credential it was sent. Each is switched on per endpoint with the
//! `bad_answers` knob; none is on by default, and the simulator's own rules stay Palette's.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpResponse, ResponseError};
use futures::stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::routes::{PaletteErr, continue_token};

/// One bad answer (`PUT /__sim/knobs {"bad_answers": {"GET /v1/overlords": {"body": 42}}}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum BadAnswer {
    /// 200 with this JSON instead of the real answer: `42`, `{}`, `null`, `{"error": ".."}`.
    Body(Value),
    /// The real answer after this many bytes of leading whitespace (still valid JSON).
    Padding(u64),
    /// 200 with a body that never ends.
    Endless,
    /// Every page carries a new `continue` token, which leads back to the first page.
    EndlessContinue,
    /// 400 whose message repeats the credential the request carried.
    EchoCredentials,
}

/// Whitespace streamed per chunk.
const CHUNK: usize = 64 * 1024;

/// Answers `req` as `bad` says (the real handler runs for `Padding` and `EndlessContinue`).
pub async fn answer<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    bad: BadAnswer,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let resp = match bad {
        BadAnswer::Body(v) => HttpResponse::Ok().json(v),
        BadAnswer::Endless => {
            let spaces = Bytes::from(vec![b' '; CHUNK]);
            HttpResponse::Ok()
                .content_type("application/json")
                .streaming(stream::repeat_with(move || {
                    Ok::<_, Infallible>(spaces.clone())
                }))
        }
        BadAnswer::EchoCredentials => {
            let h = req.headers();
            let sent = h.get("ApiKey").or_else(|| h.get("Authorization"));
            let sent = sent.and_then(|v| v.to_str().ok()).unwrap_or("");
            let msg = format!("invalid credential '{sent}' for {}", req.path());
            PaletteErr::bad_request(msg).error_response()
        }
        BadAnswer::Padding(n) => {
            let (req, body) = real_answer(req, next).await?;
            let spaces = Bytes::from(vec![b' '; CHUNK]);
            let chunks = (n as usize).div_ceil(CHUNK);
            let padding = stream::iter((0..chunks).map(move |_| Ok(spaces.clone())));
            let body = stream::iter([Ok::<_, Infallible>(body)]);
            let resp = HttpResponse::Ok()
                .content_type("application/json")
                .streaming(futures::StreamExt::chain(padding, body));
            return Ok(ServiceResponse::new(req, resp));
        }
        BadAnswer::EndlessContinue => {
            let (req, body) = real_answer(req, next).await?;
            let resp = match serde_json::from_slice::<Value>(&body) {
                Ok(mut v) if v["listmeta"].is_object() => {
                    v["listmeta"]["continue"] = Value::String(fresh_token(&v));
                    HttpResponse::Ok().json(v)
                }
                _ => HttpResponse::Ok()
                    .content_type("application/json")
                    .body(body),
            };
            return Ok(ServiceResponse::new(req, resp));
        }
    };
    Ok(req.into_response(resp))
}

/// The request and the body the real handler answers.
async fn real_answer<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<(actix_web::HttpRequest, Bytes), Error> {
    let (req, resp) = next.call(req).await?.into_parts();
    let body = actix_web::body::to_bytes(resp.into_body())
        .await
        .map_err(|e| {
            let e: Box<dyn std::error::Error> = e.into();
            actix_web::error::ErrorInternalServerError(e.to_string())
        })?;
    Ok((req, body))
}

/// A token never handed out before, leading back to the first page.
fn fresh_token(page: &Value) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let count = page["listmeta"]["count"].as_u64().unwrap_or(0) as usize;
    continue_token(0, count, &NEXT.fetch_add(1, Ordering::Relaxed).to_string())
}
