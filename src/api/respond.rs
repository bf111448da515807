//! Answers of the service as HTTP: `X-SpectroCloud-Source: mirror` with `-Synced-At`,
//! `-Stale` and `-Partial`, or `X-SpectroCloud-Source: live`.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, HttpResponseBuilder};

use crate::service::{Answer, Body, Origin};
use crate::sync::Freshness;

/// What a handler answers.
pub type Reply = crate::error::AppResult<HttpResponse>;

pub const SOURCE: &str = "x-spectrocloud-source";
pub const SYNCED_AT: &str = "x-spectrocloud-synced-at";
pub const STALE: &str = "x-spectrocloud-stale";
/// Something the answer depends on is still being fetched (see `Freshness::partial`).
pub const PARTIAL: &str = "x-spectrocloud-partial";

/// A JSON answer with its source headers.
pub fn json(answer: Answer) -> HttpResponse {
    let mut b = sourced(&answer);
    b.content_type(ContentType::json());
    with_body(b, answer.body)
}

/// A CSV report (RFC 4180) as a download named `filename`, with its source headers.
pub fn csv(answer: Answer, filename: &str) -> HttpResponse {
    let mut b = sourced(&answer);
    b.content_type("text/csv; charset=utf-8");
    b.insert_header((
        actix_web::http::header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{filename}\""),
    ));
    with_body(b, answer.body)
}

fn with_body(mut b: HttpResponseBuilder, body: Body) -> HttpResponse {
    match body {
        Body::Text(t) => b.body(t),
        Body::Bytes(v) => b.body(v),
    }
}

fn sourced(answer: &Answer) -> HttpResponseBuilder {
    match answer.origin {
        Origin::Mirror(f) => mirror_head(f),
        Origin::Live => {
            let mut b = HttpResponse::Ok();
            b.insert_header((SOURCE, "live"));
            b
        }
    }
}

/// The head of a mirror answer this fresh.
fn mirror_head(f: Freshness) -> HttpResponseBuilder {
    let mut b = HttpResponse::Ok();
    b.insert_header((SOURCE, "mirror"));
    if let Some(t) = f.synced_at {
        let at = t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        b.insert_header((SYNCED_AT, at));
    }
    if f.stale {
        b.insert_header((STALE, "true"));
    }
    if f.partial() {
        b.insert_header((PARTIAL, "true"));
    }
    b.content_type(ContentType::json());
    b
}

/// Live bytes as they came (a pack manifest, vSphere properties), as JSON.
pub fn live_bytes(body: Vec<u8>) -> HttpResponse {
    json(Answer::live_bytes(body))
}
