//! The fleet page at `<base>/ui/`: server-rendered HTML (askama templates in
//! `src/ui/templates`, auto-escaped), charts drawn as SVG by the server, one small script that
//! only filters a table. Its data comes from the service functions, like the API's.

pub mod charts;
mod error_page;
mod page;
pub mod session;
mod view;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::UrlencodedError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, HttpResponse, web};

/// Only this page's own files and forms; no inline script or style (the SVG uses attributes
/// and classes), no framing.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Registers the page's routes under `<base>/ui`. Call before the API's scope, which would
/// otherwise claim the path.
pub fn configure(base_path: String) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let root = format!("{}/ui", base_path.trim_end_matches('/'));
        let slash = format!("{root}/");
        cfg.service(
            web::scope(&root)
                .wrap(from_fn(page_headers))
                .wrap(from_fn(error_page::html_errors))
                // A token is short: a sign-in form never needs more.
                .app_data(
                    web::FormConfig::default()
                        .limit(8 * 1024)
                        .error_handler(|err, _| match err {
                            UrlencodedError::Overflow { limit, .. } => {
                                crate::api::middleware::too_large(limit).into()
                            }
                            other => crate::error::AppError::bad_request(format!(
                                "invalid form: {other}"
                            ))
                            .into(),
                        }),
                )
                .route("", web::get().to(move || redirect(slash.clone())))
                .route("/", web::get().to(page::fleet))
                .route("/signin", web::get().to(session::form))
                .route("/signin", web::post().to(session::sign_in))
                .route("/signout", web::post().to(session::sign_out))
                .route(
                    "/profile-usage.csv",
                    web::get().to(|r| page::download(r, page::Csv::ProfileUsage)),
                )
                .route(
                    "/pack-usage.csv",
                    web::get().to(|r| page::download(r, page::Csv::PackUsage)),
                )
                .route("/fleet.css", web::get().to(css))
                .route("/fleet.js", web::get().to(js))
                .default_service(web::to(crate::api::not_found)),
        );
    }
}

async fn redirect(to: String) -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, to))
        .finish()
}

async fn css() -> HttpResponse {
    asset("text/css; charset=utf-8", include_str!("assets/fleet.css"))
}

async fn js() -> HttpResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/fleet.js"),
    )
}

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type.to_string())
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(body)
}

/// CSP and framing for every page answer; `same-origin` referrers so the browser sends
/// `Origin` with the page's form posts (under `no-referrer` it sends `Origin: null`).
async fn page_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let mut res = next.call(req).await?.map_into_boxed_body();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    Ok(res)
}
