//! Authorization for every route under the base path, driven by the route table: authenticate
//! the caller (401), check the route's permission for THAT caller (403, before any body is read
//! or Palette is called), resolve the Palette user, and add the re-auth header to the answer.
//! It sits beside the route table it reads; `mcp` and the actions registry use its
//! [`with_caller`] for their own bearer check, as they use `api::middleware`'s body guard.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};

use super::routes::{self, Access, RouteSpec, Source};
use crate::auth::audit;
use crate::auth::palette_user::{self, EMAIL_HEADER, PaletteUser, REAUTH_HEADER};
use crate::error::{AppError, ErrorCode};
use crate::service::AppState;

/// The route spec of this request, when the route table has one.
fn spec_of(req: &ServiceRequest, base: &str) -> (Option<&'static RouteSpec>, Option<String>) {
    let Some(pattern) = req.match_pattern() else {
        return (None, None);
    };
    let relative = pattern.strip_prefix(base).unwrap_or(&pattern).to_string();
    (
        routes::find(req.method().as_str(), &relative),
        Some(relative),
    )
}

fn deny(req: ServiceRequest, err: AppError) -> ServiceResponse<BoxBody> {
    let mut resp = err.error_response();
    if err.code == ErrorCode::Unauthenticated {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    req.into_response(resp)
}

/// The caller named by the request's `Authorization` header, or the 401 to answer (the
/// reason is logged for `surface`, never answered).
pub async fn bearer_caller(
    state: &AppState,
    req: &ServiceRequest,
    surface: &'static str,
) -> Result<crate::auth::Caller, AppError> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    state.auth.authenticate(header).await.map_err(|reason| {
        tracing::info!(surface, path = req.path(), reason = %reason, "authentication failed");
        AppError::unauthenticated(reason.answer())
    })
}

/// Runs `next` with the request's bearer caller in its extensions, or answers what `refuse`
/// makes of the error (a 401, or a 500 without application state, then `None`).
pub async fn with_caller<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    surface: &'static str,
    refuse: impl FnOnce(&HttpRequest, Option<&AppState>, AppError) -> HttpResponse,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        let e = AppError::internal("authorizing", "no application state");
        let resp = refuse(req.request(), None, e);
        return Ok(req.into_response(resp));
    };
    match bearer_caller(&state, &req, surface).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Err(e) => {
            let resp = refuse(req.request(), Some(&state), e);
            Ok(req.into_response(resp))
        }
    }
}

pub async fn authorize(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(deny(
            req,
            AppError::internal("authorizing", "no application state"),
        ));
    };
    let base = if state.config.server.base_path == "/" {
        ""
    } else {
        state.config.server.base_path.as_str()
    };
    let (spec, pattern) = spec_of(&req, base);
    if spec.is_some_and(|s| s.access == Access::Public) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }

    let caller = match bearer_caller(&state, &req, "api").await {
        Ok(c) => c,
        Err(e) => return Ok(deny(req, e)),
    };

    let Some(spec) = spec else {
        if let Some(p) = pattern.filter(|p| routes::path_exists(p)) {
            let allow = routes::methods_for(&p).join(", ");
            let mut resp = AppError::new(
                ErrorCode::MethodNotAllowed,
                format!("{} is not allowed here; use {allow}", req.method()),
            )
            .error_response();
            if let Ok(v) = HeaderValue::from_str(&allow) {
                resp.headers_mut().insert(header::ALLOW, v);
            }
            return Ok(req.into_response(resp));
        }
        // No such route: the JSON 404 of the default service.
        return Ok(next.call(req).await?.map_into_boxed_body());
    };

    guard(req, next, &state, caller, spec).await
}

/// The environment a request names (None: unknown or none configured; the handler answers
/// 404 for an unknown one), and its name as given.
fn environment_of(
    req: &ServiceRequest,
    state: &AppState,
) -> (Option<Arc<crate::palette::Environment>>, String) {
    let instance = super::extract::query_param(req.request(), "instance").filter(|n| !n.is_empty());
    let env = state.envs.get(instance.as_deref()).cloned();
    let name = env
        .as_ref()
        .map(|e| e.name().to_string())
        .or(instance)
        .unwrap_or_default();
    (env, name)
}

/// The route's permission, the Palette user, `require_user_token`, then the handler; every
/// refusal of the way is audited.
async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    state: &AppState,
    caller: crate::auth::Caller,
    spec: &'static RouteSpec,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let (env, _) = environment_of(&req, state);
    let refusal = Refusal {
        state,
        caller: &caller,
        action: audit::Action::of_route(spec.method, spec.path),
        spec,
        // A configured environment only: an unknown `instance` is any text a caller sends,
        // and would make each refusal a row of its own.
        env: env.as_ref().map_or("", |e| e.name()),
    };
    if let Access::Permission(p) = spec.access
        && !caller.may(p)
    {
        tracing::info!(subject = %caller.subject, permission = p.id(), path = req.path(), "permission denied");
        let mut claimed = PaletteUser::none();
        claimed.claimed_email = header_value(&req, EMAIL_HEADER);
        refusal
            .record(&claimed, format!("permission {} missing", p.id()))
            .await;
        return Ok(deny(req, p.denied()));
    }

    let binding = caller.binding();
    let who = palette_user::Request {
        headers: req.headers(),
        env: env.as_deref(),
        subject: &caller.subject,
        binding: &binding,
    };
    let user = Arc::new(PaletteUser::resolve(who, &state.tokens, &state.scopes, &state.db).await);
    let required = env
        .as_ref()
        .map_or(state.config.auth.require_user_token, |e| {
            e.config.requires_user_token(&state.config.auth)
        });
    // Service routes (auth/debug, openapi, sync status and trigger, audit) show no Palette data.
    if required && !user.usable() && spec.source != Source::Service {
        user.ask_reauth();
        refusal
            .record(&user, "no usable Palette user token".into())
            .await;
        let mut resp = deny(
            req,
            AppError::unauthenticated(
                "a Palette user token is required: sign in to Palette again (X-SpectroCloud-Token)",
            ),
        );
        with_reauth(resp.response_mut().headers_mut());
        return Ok(resp);
    }
    tracing::debug!(subject = %caller.subject, palette_user = user.email.as_deref().unwrap_or("-"), "authorized");
    req.extensions_mut().insert(caller.clone());
    req.extensions_mut().insert(user.clone());
    req.extensions_mut().insert(spec);
    let mut res = next.call(req).await?.map_into_boxed_body();
    if user.needs_reauth() {
        with_reauth(res.headers_mut());
    }
    // An audited action refused before it was recorded (bad input, unknown instance, ...).
    let status = res.status();
    if refusal.action.is_some()
        && !user.audited()
        && (status.is_client_error() || status.is_server_error())
    {
        refusal
            .record(&user, format!("refused with {}", status.as_u16()))
            .await;
    }
    Ok(res)
}

/// What an audited refusal of this request records.
struct Refusal<'a> {
    state: &'a AppState,
    caller: &'a crate::auth::Caller,
    /// The audited action of the route, if it is one (else `access`).
    action: Option<audit::Action>,
    spec: &'static RouteSpec,
    env: &'a str,
}

impl Refusal<'_> {
    async fn record(&self, user: &PaletteUser, why: String) {
        audit::record_denied(
            &self.state.db,
            audit::Event {
                subject: &self.caller.subject,
                user: Some(user),
                action: self.action.unwrap_or(audit::Action::Access),
                env: self.env,
                object_uid: None,
                success: false,
                detail: Some(format!("{} {}: {why}", self.spec.method, self.spec.path)),
            },
        )
        .await;
    }
}

fn with_reauth(h: &mut actix_web::http::header::HeaderMap) {
    h.insert(
        header::HeaderName::from_static(REAUTH_HEADER),
        HeaderValue::from_static("true"),
    );
}

fn header_value(req: &ServiceRequest, name: &str) -> Option<String> {
    palette_user::header(req.headers(), name).map(str::to_string)
}
