//! Cross-cutting HTTP middleware: request id header, the request's log line and the body size
//! guard.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_LENGTH, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use tracing_actix_web::RequestId;

use crate::error::{AppError, ErrorCode};

/// The largest body any route accepts, in bytes (the HTTP API's and MCP's limit, shared
/// with the JSON extractor config).
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

type Answer = dyn Fn(&HttpRequest, usize) -> HttpResponse + Send + Sync;

/// How a 413 is answered for a request: in the error shape of its route family. The
/// composition root, which mounts every family, supplies it (so `api` need not know `mcp`).
#[derive(Clone)]
pub struct TooLarge(Arc<Answer>);

impl TooLarge {
    pub fn new(
        answer: impl Fn(&HttpRequest, usize) -> HttpResponse + Send + Sync + 'static,
    ) -> Self {
        TooLarge(Arc::new(answer))
    }

    pub fn answer(&self, req: &HttpRequest, limit: usize) -> HttpResponse {
        (self.0)(req, limit)
    }
}

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Echoes the request id that `TracingLogger` put on the request span, so a caller can quote it.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = req.extensions().get::<RequestId>().copied();
    let mut res = next.call(req).await?.map_into_boxed_body();
    if let Some(id) = id
        && let Ok(v) = HeaderValue::from_str(&id.to_string())
    {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    Ok(res)
}

/// Refuses a declared body larger than the limit before any handler or authentication runs.
/// Bodies without Content-Length are bounded by the extractors' own limits.
pub async fn body_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let limit = req
        .app_data::<web::Data<BodyLimit>>()
        .map(|l| l.0)
        .unwrap_or(usize::MAX);
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(len) = declared
        && len > limit
    {
        let resp = match req.app_data::<web::Data<TooLarge>>() {
            Some(family) => family.answer(req.request(), limit),
            None => too_large(limit).error_response(),
        };
        return Ok(req.into_response(resp));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

pub fn too_large(limit: usize) -> AppError {
    AppError::new(
        ErrorCode::PayloadTooLarge,
        format!("request body is larger than the limit of {limit} bytes"),
    )
}

// ------------------------------------------------------------------ request logs

/// Query parameters whose values are shown in request logs; every other value is `***` (a
/// token passed as `?token=` must never reach a log line).
const LOGGED_QUERY_PARAMS: &[&str] = &[
    "instance",
    "projectUid",
    "frp",
    "cloudType",
    "profileType",
    "datacenter",
    "computecluster",
    "versionUid",
    "limit",
    "offset",
    "cursor",
    "format",
    "name",
    "version",
];

/// At most `max` characters of `s` (a header or path can be kilobytes long).
fn cut(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// The query string as logged: known parameters with their (cut) values, any other value
/// replaced by `***`.
pub fn redacted_query(query: &str) -> String {
    let parts: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
        .take(20)
        .map(|(k, v)| {
            let k = cut(&k, 40);
            if LOGGED_QUERY_PARAMS.contains(&k.as_str()) {
                format!("{k}={}", cut(&v, 64))
            } else {
                format!("{k}=***")
            }
        })
        .collect();
    parts.join("&")
}

/// The request span of every request: the path and a redacted query (never the raw target),
/// and headers cut to a bounded length.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(req: &ServiceRequest) -> tracing::Span {
        let id = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let user_agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let route = req.match_pattern().unwrap_or_else(|| "default".into());
        let query = redacted_query(req.query_string());
        let peer = req
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        req.extensions_mut()
            .insert(Started(std::time::Instant::now()));
        tracing::info_span!(
            "HTTP request",
            http.method = %req.method(),
            http.route = %cut(&route, 200),
            http.target = %cut(req.path(), 200),
            http.query = %query,
            http.client_ip = %peer,
            http.user_agent = %cut(user_agent, 120),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %id,
            exception.message = tracing::field::Empty,
        )
    }

    /// The request's one log line (its span's close is not logged, see `telemetry`): the
    /// status, the error's message (never its `Debug`), the duration; INFO up to 4xx, WARN for
    /// an upstream failure (502, 503, 504), ERROR for any other 5xx.
    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, Error>,
    ) {
        let (status, error, started) = match outcome {
            Ok(res) => (
                res.status(),
                res.response().error().map(|e| e.to_string()),
                res.request().extensions().get::<Started>().map(|s| s.0),
            ),
            Err(e) => (
                e.as_response_error().status_code(),
                Some(e.to_string()),
                None,
            ),
        };
        let code = status.as_u16();
        span.record("http.status_code", code);
        span.record("otel.status_code", if code >= 500 { "ERROR" } else { "OK" });
        if let Some(e) = &error {
            span.record("exception.message", cut(e, 200));
        }
        let ms = started.map_or(0.0, |t| {
            (t.elapsed().as_secs_f64() * 10_000.0).round() / 10.0
        });
        // Called inside the request span: the line carries its fields.
        match outcome_level(code) {
            OutcomeLevel::Info => tracing::info!(status = code, duration_ms = ms, "request done"),
            OutcomeLevel::Warn => {
                tracing::warn!(status = code, duration_ms = ms, "request failed upstream")
            }
            OutcomeLevel::Error => {
                tracing::error!(status = code, duration_ms = ms, "request failed")
            }
        }
    }
}

/// When a request started (the duration in its log line).
#[derive(Clone, Copy)]
struct Started(std::time::Instant);

/// The level of a request's log line.
#[derive(Debug, PartialEq, Eq)]
enum OutcomeLevel {
    Info,
    Warn,
    Error,
}

/// A caller's mistake (4xx) is not the service's problem: INFO. Palette failing (502, 503,
/// 504) is worth a look: WARN. Any other 5xx is ours: ERROR.
fn outcome_level(status: u16) -> OutcomeLevel {
    match status {
        502..=504 => OutcomeLevel::Warn,
        500..=599 => OutcomeLevel::Error,
        _ => OutcomeLevel::Info,
    }
}

// ------------------------------------------------------------------ headers in and out

/// The longest `X-SpectroCloud-User-Email` accepted (RFC 5321's limit on an address).
pub const MAX_EMAIL_CHARS: usize = 254;

/// Refuses a user-email header no address can have: it would otherwise travel into logs,
/// caches and the audit trail at any size.
pub async fn header_limits(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let email_len = req
        .headers()
        .get(crate::auth::palette_user::EMAIL_HEADER)
        .map(|v| v.len());
    if email_len.is_some_and(|n| n > MAX_EMAIL_CHARS) {
        let err = AppError::bad_request(format!(
            "X-SpectroCloud-User-Email is longer than {MAX_EMAIL_CHARS} characters"
        ));
        return Ok(req.into_response(err.error_response()));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// `HEAD` works wherever `GET` does: it is routed (and authorized) as `GET`; the HTTP layer
/// sends the headers without the body, as it remembers the request was `HEAD`. Not on the
/// MCP endpoint, whose `GET` opens an endless event stream.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.method() == actix_web::http::Method::HEAD && !req.path().ends_with("/mcp") {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// `Strict-Transport-Security` value, or none (`server.hsts_max_age_seconds = 0`).
#[derive(Clone)]
pub struct Hsts(pub Option<HeaderValue>);

impl Hsts {
    pub fn new(max_age_seconds: u64) -> Self {
        Self(
            (max_age_seconds > 0)
                .then(|| HeaderValue::from_str(&format!("max-age={max_age_seconds}")).ok())
                .flatten(),
        )
    }
}

/// The headers a browser-facing API sends on every answer: no MIME sniffing, no referrer,
/// answers not stored by caches unless a handler chose otherwise (they hold what this
/// caller may see), HSTS when configured; and every 401 names its scheme.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    use actix_web::http::header;
    let hsts = req.app_data::<web::Data<Hsts>>().and_then(|h| h.0.clone());
    let mut res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The fleet page sets its own (its forms need `Origin`).
    if !h.contains_key(header::REFERRER_POLICY) {
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(v) = hsts {
        h.insert(header::STRICT_TRANSPORT_SECURITY, v);
    }
    if status == actix_web::http::StatusCode::UNAUTHORIZED
        && !h.contains_key(header::WWW_AUTHENTICATE)
    {
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_mistake_is_info_an_upstream_failure_warn_ours_error() {
        for s in [200, 304, 400, 401, 403, 404, 409, 429] {
            assert_eq!(outcome_level(s), OutcomeLevel::Info, "{s}");
        }
        for s in [502, 503, 504] {
            assert_eq!(outcome_level(s), OutcomeLevel::Warn, "{s}");
        }
        assert_eq!(outcome_level(500), OutcomeLevel::Error);
    }

    #[test]
    fn logged_queries_keep_known_values_only() {
        assert_eq!(
            redacted_query("instance=prod&token=abc123&projectUid=p1"),
            "instance=prod&token=***&projectUid=p1"
        );
        assert_eq!(redacted_query(""), "");
        let long = format!("instance={}", "y".repeat(500));
        assert!(redacted_query(&long).len() < 80);
    }
}
