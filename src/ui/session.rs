//! Who is looking at the fleet page. In `auth.mode = "none"` everyone is (the demo); otherwise a
//! sign-in form takes a bearer token and keeps it in an `HttpOnly`, `SameSite=Strict` cookie
//! whose path is the page's own, so it is sent to `/ui/` routes only — and only they read it:
//! the API still wants `Authorization`. Form posts must come from the page's own origin.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieAge};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::Caller;
use crate::config::AuthMode;
use crate::error::{AppError, ErrorCode};

/// The cookie holding the signed-in token.
pub const COOKIE: &str = "sc_ui_token";
/// How long a sign-in lasts in the browser.
const COOKIE_HOURS: i64 = 8;

/// `<base>/ui`: the page's root (no trailing slash), also the cookie's path.
pub fn ui_root(state: &AppState) -> String {
    let base = state.config.server.base_path.trim_end_matches('/');
    format!("{base}/ui")
}

/// The caller of a page request: anyone in mode `none`, else the holder of a valid cookie.
pub async fn caller(req: &HttpRequest, state: &AppState) -> Option<Caller> {
    if state.config.auth.mode == AuthMode::None {
        return state.auth.authenticate(None).await.ok();
    }
    let token = req.cookie(COOKIE)?;
    let bearer = format!("Bearer {}", token.value());
    match state.auth.authenticate(Some(&bearer)).await {
        Ok(c) => Some(c),
        Err(reason) => {
            tracing::info!(reason = %reason, "fleet page cookie refused");
            None
        }
    }
}

/// Whether a form post comes from the page's own origin (`scheme://host`). Browsers send
/// `Origin` on every POST; without one, `Sec-Fetch-Site: same-origin` is accepted instead.
pub fn same_origin(
    origin: Option<&str>,
    fetch_site: Option<&str>,
    scheme: &str,
    host: &str,
) -> bool {
    match origin {
        Some(o) => o.eq_ignore_ascii_case(&format!("{scheme}://{host}")),
        None => fetch_site == Some("same-origin"),
    }
}

fn check_origin(req: &HttpRequest) -> Result<(), AppError> {
    let h = |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
    let info = req.connection_info();
    let fetch_site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok());
    if same_origin(h(header::ORIGIN), fetch_site, info.scheme(), info.host()) {
        Ok(())
    } else {
        tracing::info!(
            origin = h(header::ORIGIN).unwrap_or("-"),
            "fleet page form post from another origin refused"
        );
        Err(AppError::new(
            ErrorCode::PermissionDenied,
            "this form must be posted from the fleet page itself",
        ))
    }
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    root: &'a str,
    problem: Option<&'a str>,
}

fn page(
    state: &AppState,
    status: actix_web::http::StatusCode,
    problem: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let root = ui_root(state);
    let html = SignInPage {
        root: &root,
        problem,
    }
    .render()
    .map_err(|e| AppError::internal("rendering the sign-in page", e))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// Where an unauthenticated page request goes.
pub fn to_sign_in(state: &AppState) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{}/signin", ui_root(state))))
        .finish()
}

fn cookie<'c>(req: &HttpRequest, state: &AppState, value: String) -> Cookie<'c> {
    Cookie::build(COOKIE, value)
        .path(ui_root(state))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.connection_info().scheme() == "https")
        .max_age(CookieAge::hours(COOKIE_HOURS))
        .finish()
}

/// `GET /ui/signin`: the form (straight to the page when no sign-in is needed).
pub async fn form(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if state.config.auth.mode == AuthMode::None {
        return Ok(redirect(&format!("{}/", ui_root(&state))));
    }
    page(&state, actix_web::http::StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct SignIn {
    token: String,
}

/// `POST /ui/signin`: a token that authenticates becomes the cookie.
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SignIn>,
) -> Result<HttpResponse, AppError> {
    check_origin(&req)?;
    let token = form.into_inner().token.trim().to_string();
    if state.config.auth.mode == AuthMode::None {
        return Ok(redirect(&format!("{}/", ui_root(&state))));
    }
    let bearer = format!("Bearer {token}");
    if let Err(reason) = state.auth.authenticate(Some(&bearer)).await {
        tracing::info!(reason = %reason, "fleet page sign-in refused");
        return page(
            &state,
            actix_web::http::StatusCode::UNAUTHORIZED,
            Some("That token was not accepted."),
        );
    }
    let mut resp = redirect(&format!("{}/", ui_root(&state)));
    resp.add_cookie(&cookie(&req, &state, token))
        .map_err(|e| AppError::internal("setting the sign-in cookie", e))?;
    Ok(resp)
}

/// `POST /ui/signout`: forgets the cookie.
pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    check_origin(&req)?;
    let mut gone = cookie(&req, &state, String::new());
    gone.make_removal();
    let mut resp = redirect(&format!("{}/signin", ui_root(&state)));
    resp.add_cookie(&gone)
        .map_err(|e| AppError::internal("clearing the sign-in cookie", e))?;
    Ok(resp)
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn only_the_pages_own_origin_may_post() {
        assert!(same_origin(
            Some("http://127.0.0.1:7007"),
            None,
            "http",
            "127.0.0.1:7007"
        ));
        assert!(!same_origin(
            Some("http://evil.example"),
            Some("same-origin"),
            "http",
            "127.0.0.1:7007"
        ));
        assert!(!same_origin(
            Some("https://127.0.0.1:7007"),
            None,
            "http",
            "127.0.0.1:7007"
        ));
        // `Origin: null` (an opaque origin) is never ours.
        assert!(!same_origin(Some("null"), None, "http", "127.0.0.1:7007"));
        assert!(same_origin(None, Some("same-origin"), "http", "h"));
        assert!(!same_origin(None, Some("cross-site"), "http", "h"));
        assert!(!same_origin(None, None, "http", "h"));
    }
}
