//! Request extractors shared by the handlers.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use crate::app::AppState;
use crate::error::AppError;
use crate::palette::Environment;

/// One query parameter, percent-decoded.
pub fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal("reading application state", "missing"))
}

/// The environment selected by `?instance=` (the first one when absent); 404
/// `unknown_instance` for a name that is not configured.
pub struct Instance(pub Arc<Environment>);

fn instance(req: &HttpRequest) -> Result<Instance, AppError> {
    let state = app_state(req)?;
    let name = query_param(req, "instance").filter(|n| !n.is_empty());
    match state.envs.get(name.as_deref()) {
        Some(e) => Ok(Instance(e.clone())),
        None => match name {
            Some(n) => Err(AppError::unknown_instance(&n)),
            None => Err(AppError::new(
                crate::error::ErrorCode::UnknownInstance,
                "no SpectroCloud environment is configured",
            )),
        },
    }
}

impl FromRequest for Instance {
    type Error = AppError;
    type Future = Ready<Result<Instance, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(instance(req))
    }
}

/// The `instance` parameter if given (validated), for routes that act on all environments
/// when it is absent.
pub struct OptionalInstance(pub Option<Arc<Environment>>);

impl FromRequest for OptionalInstance {
    type Error = AppError;
    type Future = Ready<Result<OptionalInstance, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            match query_param(req, "instance").filter(|n| !n.is_empty()) {
                None => Ok(OptionalInstance(None)),
                Some(_) => instance(req).map(|i| OptionalInstance(Some(i.0))),
            },
        )
    }
}
