//! The benchmark's ceiling route: given bytes from a static buffer, through the same middleware
//! as every route (compression, ETag, authentication, metrics) but no handler work. Registered
//! only when the application is built with `Options { ceiling: true }` (the `bench` binary),
//! never by `serve` or `demo`.

use std::sync::RwLock;

use actix_web::web::{self, Bytes};
use actix_web::{HttpResponse, http::header::ContentType};

use super::respond::SOURCE;

/// Relative to the base path.
pub const PATH: &str = "/__bench/ceiling";
/// The largest buffer (the whole cluster list at 10,000 clusters is about 6 MB).
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

/// The bytes the ceiling serves.
#[derive(Default)]
pub struct Ceiling(pub RwLock<Bytes>);

/// The buffer as a mirror answer (so the ETag layer treats it as one).
pub async fn serve(c: web::Data<Ceiling>) -> HttpResponse {
    let body = c.0.read().map(|b| b.clone()).unwrap_or_default();
    HttpResponse::Ok()
        .insert_header((SOURCE, "mirror"))
        .content_type(ContentType::json())
        .body(body)
}

/// Replaces the buffer (the bench sets it to each route's answer in turn).
pub async fn set(c: web::Data<Ceiling>, body: Bytes) -> HttpResponse {
    if let Ok(mut b) = c.0.write() {
        *b = body;
    }
    HttpResponse::NoContent().finish()
}
