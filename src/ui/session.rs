//! Who is looking at the fleet page. In `auth.mode = "none"` everyone is (the demo); otherwise a
//! sign-in form takes a bearer token, verifies it once, and answers with a random session id
//! (see [`crate::auth::session`]) in an `HttpOnly`, `SameSite=Strict` cookie whose path is the
//! page's own — the bearer itself never reaches the browser's cookie jar. Sign-out ends the
//! session on the server, so a copied cookie stops working at once. Form posts must come from
//! the page's own origin: `ui.public_url` (or `mcp.public_url`) when configured, else the
//! request's `Host`; `Forwarded` and `X-Forwarded-*` are never taken for it.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieAge};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::Caller;
use crate::auth::session::{self as sessions, SignInError};
use crate::config::AuthMode;
use crate::error::{AppError, ErrorCode};
use crate::service::AppState;

/// The cookie holding the session id.
pub const COOKIE: &str = "sc_ui_session";

/// `<base>/ui`: the page's root (no trailing slash), also the cookie's path.
pub fn ui_root(state: &AppState) -> String {
    let base = state.config.server.base_path.trim_end_matches('/');
    format!("{base}/ui")
}

/// The caller of a page request: anyone in mode `none`, else the holder of a live session.
pub async fn caller(req: &HttpRequest, state: &AppState) -> Result<Option<Caller>, AppError> {
    if state.config.auth.mode == AuthMode::None {
        return Ok(state.auth.authenticate(None).await.ok());
    }
    let Some(id) = req.cookie(COOKIE) else {
        return Ok(None);
    };
    let found = sessions::resume(&state.auth, &state.db, id.value())
        .await
        .map_err(|e| AppError::internal("reading the fleet page session", e))?;
    if found.is_none() {
        tracing::info!("fleet page session unknown, ended or expired");
    }
    Ok(found)
}

/// Whether a form post comes from the page's own origin. With a configured public origin the
/// `Origin` must be exactly it; without, its host must be the request's `Host` (http or https:
/// a TLS proxy in front keeps `Host` but the service itself speaks http). Browsers send
/// `Origin` on every POST; without one, `Sec-Fetch-Site: same-origin` is accepted instead.
pub fn same_origin(
    origin: Option<&str>,
    fetch_site: Option<&str>,
    public: Option<&str>,
    host: Option<&str>,
) -> bool {
    let Some(o) = origin else {
        return fetch_site == Some("same-origin");
    };
    if let Some(p) = public {
        return o.eq_ignore_ascii_case(p);
    }
    let Some(host) = host.filter(|h| !h.is_empty()) else {
        return false;
    };
    ["http://", "https://"].iter().any(|scheme| {
        o.len() == scheme.len() + host.len()
            && o[..scheme.len()].eq_ignore_ascii_case(scheme)
            && o[scheme.len()..].eq_ignore_ascii_case(host)
    })
}

fn check_origin(req: &HttpRequest, state: &AppState) -> Result<(), AppError> {
    let h = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let public = state.config.ui.origin(&state.config.mcp);
    if same_origin(
        h("origin"),
        h("sec-fetch-site"),
        public.as_deref(),
        h("host"),
    ) {
        Ok(())
    } else {
        tracing::info!(
            origin = h("origin").unwrap_or("-"),
            expected = public.as_deref().unwrap_or("the request's Host"),
            "fleet page form post from another origin refused (behind a proxy that rewrites Host, set ui.public_url)"
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

fn cookie<'c>(req: &HttpRequest, state: &AppState, value: String, seconds: i64) -> Cookie<'c> {
    // `Secure` follows the configured public origin; without one, the scheme the request
    // arrived by (a forged `X-Forwarded-Proto` could only drop the flag on its own cookie).
    let secure = match state.config.ui.origin(&state.config.mcp) {
        Some(o) => o.starts_with("https://"),
        None => req.connection_info().scheme() == "https",
    };
    Cookie::build(COOKIE, value)
        .path(ui_root(state))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(CookieAge::seconds(seconds))
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

/// `POST /ui/signin`: a token that authenticates opens a session; its id becomes the cookie.
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SignIn>,
) -> Result<HttpResponse, AppError> {
    check_origin(&req, &state)?;
    let token = form.into_inner().token.trim().to_string();
    let issued = match sessions::sign_in(&state.auth, &state.db, &state.config.ui, &token).await {
        Ok(s) => s,
        Err(SignInError::NotNeeded) => return Ok(redirect(&format!("{}/", ui_root(&state)))),
        Err(SignInError::Refused(reason)) => {
            tracing::info!(reason = %reason, "fleet page sign-in refused");
            return page(
                &state,
                actix_web::http::StatusCode::UNAUTHORIZED,
                Some("That token was not accepted."),
            );
        }
        Err(SignInError::Store(e)) => return Err(AppError::internal("storing the session", e)),
    };
    tracing::info!(subject = %issued.subject, expires_at = issued.expires_at, "fleet page signed in");
    let seconds = issued.expires_at - chrono::Utc::now().timestamp();
    let mut resp = redirect(&format!("{}/", ui_root(&state)));
    resp.add_cookie(&cookie(&req, &state, issued.id, seconds))
        .map_err(|e| AppError::internal("setting the sign-in cookie", e))?;
    Ok(resp)
}

/// `POST /ui/signout`: ends the session on the server and forgets the cookie.
pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    check_origin(&req, &state)?;
    if let Some(id) = req.cookie(COOKIE) {
        let ended = sessions::end(&state.db, id.value())
            .await
            .map_err(|e| AppError::internal("ending the session", e))?;
        tracing::info!(ended, "fleet page signed out");
    }
    let mut gone = cookie(&req, &state, String::new(), 0);
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
        let host = Some("127.0.0.1:7007");
        assert!(same_origin(Some("http://127.0.0.1:7007"), None, None, host));
        // Behind a TLS proxy that keeps `Host`.
        assert!(same_origin(
            Some("https://127.0.0.1:7007"),
            None,
            None,
            host
        ));
        assert!(!same_origin(
            Some("http://evil.example"),
            Some("same-origin"),
            None,
            host
        ));
        assert!(!same_origin(
            Some("http://127.0.0.1:7008"),
            None,
            None,
            host
        ));
        assert!(!same_origin(
            Some("http://127.0.0.1:7007"),
            None,
            None,
            None
        ));
        // `Origin: null` (an opaque origin) is never ours.
        assert!(!same_origin(Some("null"), None, None, host));
        assert!(same_origin(None, Some("same-origin"), None, host));
        assert!(!same_origin(None, Some("cross-site"), None, host));
        assert!(!same_origin(None, None, None, host));
    }

    #[test]
    fn a_public_origin_is_matched_exactly_whatever_the_host() {
        let public = Some("https://sc.example.com");
        let host = Some("evil.example");
        assert!(same_origin(
            Some("https://sc.example.com"),
            None,
            public,
            host
        ));
        assert!(!same_origin(
            Some("http://sc.example.com"),
            None,
            public,
            host
        ));
        assert!(!same_origin(
            Some("https://evil.example"),
            None,
            public,
            host
        ));
    }
}
