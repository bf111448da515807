//! Authorization for every route under the base path, driven by the route table: authenticate
//! the caller (401), check the route's permission for THAT caller (403, before any body is read
//! or Palette is called), resolve the Palette user, and add the re-auth header to the answer.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};

use super::palette_user::{PaletteUser, REAUTH_HEADER};
use crate::api::routes::{self, Access, RouteSpec};
use crate::app::AppState;
use crate::error::{AppError, ErrorCode};

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

    let auth_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let caller = match state.auth.authenticate(auth_header.as_deref()).await {
        Ok(c) => c,
        Err(reason) => {
            tracing::info!(path = req.path(), reason = %reason, "authentication failed");
            return Ok(deny(
                req,
                AppError::unauthenticated(
                    "authentication required: send Authorization: Bearer <token>",
                ),
            ));
        }
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

    if let Access::Permission(p) = spec.access
        && !caller.may(p)
    {
        tracing::info!(subject = %caller.subject, permission = p.id(), path = req.path(), "permission denied");
        return Ok(deny(req, AppError::permission_denied(p)));
    }

    // The environment the request is for (the handler answers 404 for an unknown one).
    let instance =
        crate::api::extract::query_param(req.request(), "instance").filter(|n| !n.is_empty());
    let env = state.envs.get(instance.as_deref());
    let env_name = env
        .map(|e| e.name().to_string())
        .or(instance)
        .unwrap_or_default();
    let accept_tokens = env.is_none_or(|e| e.config.user_tokens);
    let user = Arc::new(PaletteUser::resolve(
        req.headers(),
        &state.tokens,
        &env_name,
        &caller.subject,
        accept_tokens,
    ));
    tracing::debug!(subject = %caller.subject, palette_user = user.email.as_deref().unwrap_or("-"), "authorized");
    req.extensions_mut().insert(caller);
    req.extensions_mut().insert(user.clone());
    req.extensions_mut().insert(spec);
    let mut res = next.call(req).await?.map_into_boxed_body();
    if user.needs_reauth() {
        res.headers_mut().insert(
            header::HeaderName::from_static(REAUTH_HEADER),
            HeaderValue::from_static("true"),
        );
    }
    Ok(res)
}
