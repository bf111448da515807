//! CORS for a Backstage frontend served from another origin: the preflight is answered before
//! authentication, and the `X-SpectroCloud-*` answer headers are exposed so the frontend can read
//! `X-SpectroCloud-ReAuth-Required`.

use actix_cors::Cors;
use actix_web::http::{Method, header};

use super::respond::{PARTIAL, SOURCE, STALE, SYNCED_AT};
use crate::auth::palette_user::{EMAIL_HEADER, REAUTH_HEADER, TOKEN_HEADER};

pub fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        // DELETE ends an MCP session.
        .allowed_methods([Method::GET, Method::POST, Method::DELETE])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static(TOKEN_HEADER),
            header::HeaderName::from_static(EMAIL_HEADER),
            header::HeaderName::from_static("mcp-session-id"),
            header::HeaderName::from_static("mcp-protocol-version"),
            header::HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            header::HeaderName::from_static(REAUTH_HEADER),
            header::HeaderName::from_static(SOURCE),
            header::HeaderName::from_static(SYNCED_AT),
            header::HeaderName::from_static(STALE),
            header::HeaderName::from_static(PARTIAL),
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("mcp-session-id"),
            header::CONTENT_DISPOSITION,
        ])
        .max_age(3600);
    for o in origins {
        cors = if o == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(o.trim_end_matches('/'))
        };
    }
    cors
}
