//! The fleet page's errors as HTML pages for a browser: the page's look, what went wrong, what
//! to do, and links that lead somewhere (an unknown `?instance=` lists the configured
//! environments). Decided by `Accept`: a request that accepts `text/html` (a browser, also when
//! it follows a CSV link) gets the page; any other (a script fetching `/ui/*.csv`) keeps the
//! API's JSON `{error, code}`. Status and headers stay those of the error.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use askama::Template;
use tracing_actix_web::RequestId;

use crate::error::{AppError, ErrorCode};
use crate::service::AppState;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    root: &'a str,
    title: &'static str,
    message: &'a str,
    advice: String,
    links: Vec<Link>,
    request_id: String,
}

/// A link on an error page.
#[derive(Debug, PartialEq, Eq)]
pub struct Link {
    pub href: String,
    pub label: String,
}

/// What an error page says besides the error's own message.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    pub title: &'static str,
    pub advice: String,
    pub links: Vec<Link>,
}

fn link(href: String, label: impl Into<String>) -> Link {
    Link {
        href,
        label: label.into(),
    }
}

/// The page for `err` under the fleet page at `root`, with the configured environments.
pub fn plan(err: &AppError, root: &str, envs: &[&str]) -> Plan {
    let home = || vec![link(format!("{root}/"), "The fleet page")];
    let (title, advice, links) = match err.code {
        ErrorCode::UnknownInstance if envs.is_empty() => (
            "Unknown environment",
            "No environment is configured: add an [[environments]] table to the configuration and restart the service.".to_string(),
            vec![],
        ),
        ErrorCode::UnknownInstance => (
            "Unknown environment",
            "Pick one of the configured environments:".to_string(),
            envs.iter()
                .map(|e| {
                    let q: String = url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("instance", e)
                        .finish();
                    link(format!("{root}/?{q}"), *e)
                })
                .collect(),
        ),
        ErrorCode::Unauthenticated => (
            "Sign-in needed",
            "Sign in again with your bearer token.".to_string(),
            vec![link(format!("{root}/signin"), "Sign in")],
        ),
        ErrorCode::PermissionDenied => (
            "Not allowed",
            match err.permission {
                Some(p) => format!(
                    "Ask whoever runs this service to grant you {} (permissions.grants in its configuration).",
                    p
                ),
                None => "Ask whoever runs this service for the permission.".to_string(),
            },
            home(),
        ),
        ErrorCode::NotFound | ErrorCode::MethodNotAllowed => (
            "Not found",
            "There is no such page here. Start again from the fleet page.".to_string(),
            home(),
        ),
        ErrorCode::Throttled => (
            "Too many requests",
            format!(
                "Wait {} seconds, then reload.",
                err.retry_after.unwrap_or(2)
            ),
            home(),
        ),
        ErrorCode::NotSynced
        | ErrorCode::PaletteUnreachable
        | ErrorCode::PaletteTimeout
        | ErrorCode::PaletteError
        | ErrorCode::PaletteDenied => (
            "Palette could not answer",
            "Reload in a minute; the environments' sync status on the fleet page shows when Palette was last reached.".to_string(),
            home(),
        ),
        ErrorCode::InternalError => (
            "Something went wrong",
            "Reload the page. If it happens again, the service's log has the details under the request id below.".to_string(),
            home(),
        ),
        _ => (
            "This request was refused",
            "Check the address or the form, then try again from the fleet page.".to_string(),
            home(),
        ),
    };
    Plan {
        title,
        advice,
        links,
    }
}

/// Whether the request asks for HTML (a browser's navigation does).
fn wants_html(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"))
}

/// Turns an error answer into its HTML page when the browser asked for HTML.
pub async fn html_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let html = wants_html(&req);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.to_string())
        .unwrap_or_default();
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    // A page that already is HTML (the sign-in form repeated with its problem) stays as is.
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/html"));
    if !html || is_html || !(status.is_client_error() || status.is_server_error()) {
        return Ok(res);
    }
    let Some(state) = state else {
        return Ok(res);
    };
    // Every error here is an `AppError` (the scope's extractors and default service answer
    // with one); anything else is shown by its status.
    let err = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>().cloned())
        .unwrap_or_else(|| {
            AppError::bad_request(status.canonical_reason().unwrap_or("Request refused"))
        });
    let root = super::session::ui_root(&state);
    let envs: Vec<&str> = state.envs.all().iter().map(|e| e.name()).collect();
    let plan = plan(&err, &root, &envs);
    let page = ErrorPage {
        root: &root,
        title: plan.title,
        message: &err.message,
        advice: plan.advice,
        links: plan.links,
        request_id,
    };
    let Ok(body) = page.render() else {
        return Ok(res);
    };
    Ok(res.map_body(|head, _| {
        head.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        BoxBody::new(body)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Permission;

    #[test]
    fn an_unknown_instance_links_every_configured_environment() {
        let err = AppError::unknown_instance("nope", &["prod", "stage"]);
        let p = plan(&err, "/api/spectrocloud/ui", &["prod", "stage"]);
        assert_eq!(
            p.links,
            vec![
                link("/api/spectrocloud/ui/?instance=prod".into(), "prod"),
                link("/api/spectrocloud/ui/?instance=stage".into(), "stage"),
            ]
        );
        let none = plan(&err, "/ui", &[]);
        assert!(none.links.is_empty() && none.advice.contains("[[environments]]"));
    }

    #[test]
    fn every_refusal_says_what_to_do_and_leads_somewhere() {
        let denied = plan(&Permission::ProfileViewClusters.denied(), "/ui", &["p"]);
        assert!(denied.advice.contains("spectrocloud.profile.view-clusters"));
        let signin = plan(&AppError::unauthenticated("expired"), "/ui", &["p"]);
        assert_eq!(signin.links, vec![link("/ui/signin".into(), "Sign in")]);
        for code in [
            ErrorCode::NotFound,
            ErrorCode::BadRequest,
            ErrorCode::NotSynced,
            ErrorCode::InternalError,
            ErrorCode::Throttled,
        ] {
            let p = plan(&AppError::new(code, "x"), "/ui", &["p"]);
            assert!(!p.advice.is_empty() && !p.links.is_empty(), "{code:?}");
        }
    }
}
