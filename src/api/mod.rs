//! The HTTP API under `server.base_path`: one module per resource, thin handlers.

pub mod audit;
pub mod auth_debug;
pub mod authorize;
pub mod cache;
pub mod ceiling;
pub mod cloudaccounts;
pub mod clustergroups;
pub mod clusters;
pub mod cors;
pub mod etag;
pub mod events;
pub mod extract;
pub mod health;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod overlords;
pub mod profiles;
pub mod projects;
pub mod reports;
pub mod respond;
pub mod routes;
pub mod sync;
pub mod users;
pub mod virtualclusters;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::{AppError, ErrorCode};

/// Registers every route of the route table under the base path, behind authorization.
/// With `ceiling`, also the benchmark's ceiling route (see [`ceiling`]).
pub fn configure(base_path: String, ceiling: bool) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let mut scope = web::scope(if base_path == "/" { "" } else { &base_path });
        if ceiling {
            scope = scope.service(
                web::resource(ceiling::PATH)
                    .app_data(web::Data::new(ceiling::Ceiling::default()))
                    .app_data(web::PayloadConfig::new(ceiling::MAX_BYTES))
                    .route(web::get().to(ceiling::serve))
                    .route(web::put().to(ceiling::set)),
            );
        }
        let scope = routes::register(scope)
            // Inside authorization: it keys on the caller's visibility and the route spec.
            .wrap(actix_web::middleware::from_fn(cache::cache))
            .wrap(actix_web::middleware::from_fn(authorize::authorize))
            // Inside compression: the tag is of the plain bytes, whatever the encoding.
            .wrap(actix_web::middleware::from_fn(etag::etag))
            .wrap(actix_web::middleware::Compress::default());
        cfg.service(scope);
    }
}

/// JSON bodies: size limit and `{error, code}` answers for malformed input.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req| {
            let app = match &err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => middleware::too_large(limit),
                JsonPayloadError::ContentType => AppError::new(
                    ErrorCode::InvalidJson,
                    "request body must be JSON (Content-Type: application/json)",
                ),
                other => AppError::new(
                    ErrorCode::InvalidJson,
                    format!("invalid JSON body: {other}"),
                ),
            };
            app.into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        AppError::bad_request(format!("invalid query parameters: {err}")).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _req| {
        AppError::bad_request(format!("invalid path parameter: {err}")).into()
    })
}

/// Anything no route matched: a JSON 404 (never actix's plain-text default).
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, AppError> {
    Err(AppError::new(
        ErrorCode::NotFound,
        format!("no route for {} {}", req.method(), req.path()),
    ))
}
