//! Request extractors shared by the handlers: the service context (environment from
//! `instance`, the caller and the Palette user put there by the auth middleware), paging and
//! validated path and query parameters.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::auth::Caller;
use crate::auth::palette_user::PaletteUser;
use crate::domain::Uid;
use crate::error::AppError;
use crate::palette::Environment;
use crate::service::AppState;
use crate::service::Ctx;
use crate::store::Page;

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

/// A Palette uid from the path: anything else never reaches Palette.
pub fn uid(what: &str, value: &str) -> Result<Uid, AppError> {
    Uid::parse(what, value)
}

/// The optional `projectUid` query parameter, validated (empty = absent).
pub fn project_param(req: &HttpRequest) -> Result<Option<Uid>, AppError> {
    Uid::optional("projectUid", query_param(req, "projectUid").as_deref())
}

/// A uid path segment by its route name (`manifestUid`), validated.
pub fn path_uid(req: &HttpRequest, name: &str) -> Result<Uid, AppError> {
    let value = req.match_info().get(name).unwrap_or_default();
    Uid::parse(name, value)
}

/// The optional `projectUid` query parameter, as an extractor.
pub struct Project(pub Option<Uid>);

impl FromRequest for Project {
    type Error = AppError;
    type Future = Ready<Result<Project, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(project_param(req).map(Project))
    }
}

/// The object a route names: the first `…Uid` segment of its path (validated, so nothing
/// else reaches Palette) and the optional `projectUid` it is looked up in.
pub struct Target {
    pub uid: Uid,
    pub project: Option<Uid>,
}

impl Target {
    pub fn project(&self) -> Option<&Uid> {
        self.project.as_ref()
    }
}

impl FromRequest for Target {
    type Error = AppError;
    type Future = Ready<Result<Target, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(target(req))
    }
}

fn target(req: &HttpRequest) -> Result<Target, AppError> {
    let (name, value) = req
        .match_info()
        .iter()
        .find(|(k, _)| k.ends_with("Uid"))
        .ok_or_else(|| AppError::internal("reading the route's uid", "no uid in the path"))?;
    Ok(Target {
        uid: Uid::parse(name, value)?,
        project: project_param(req)?,
    })
}

fn environment(req: &HttpRequest) -> Result<Arc<Environment>, AppError> {
    let state = app_state(req)?;
    crate::service::environment(&state, query_param(req, "instance").as_deref())
}

/// The `instance` parameter if given (validated), for routes acting on all environments
/// without it.
pub struct OptionalInstance(pub Option<Arc<Environment>>);

impl FromRequest for OptionalInstance {
    type Error = AppError;
    type Future = Ready<Result<OptionalInstance, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            match query_param(req, "instance").filter(|n| !n.is_empty()) {
                None => Ok(OptionalInstance(None)),
                Some(_) => environment(req).map(|e| OptionalInstance(Some(e))),
            },
        )
    }
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = Ready<Result<Caller, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(req))
    }
}

fn caller(req: &HttpRequest) -> Result<Caller, AppError> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| AppError::unauthenticated("authentication required"))
}

fn palette_user(req: &HttpRequest) -> Arc<PaletteUser> {
    req.extensions()
        .get::<Arc<PaletteUser>>()
        .cloned()
        .unwrap_or_else(|| Arc::new(PaletteUser::none()))
}

/// The Palette user of the request (none when no user headers were sent).
pub struct User(pub Arc<PaletteUser>);

impl FromRequest for User {
    type Error = AppError;
    type Future = Ready<Result<User, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(User(palette_user(req))))
    }
}

/// The service context of a request: its environment, caller and Palette user.
pub struct Context(pub Ctx);

impl FromRequest for Context {
    type Error = AppError;
    type Future = Ready<Result<Context, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(context(req).map(Context))
    }
}

pub fn context(req: &HttpRequest) -> Result<Ctx, AppError> {
    Ok(Ctx {
        state: app_state(req)?,
        env: environment(req)?,
        user: palette_user(req),
        caller: caller(req)?,
    })
}

/// Optional `limit` and `offset`; none = everything, as the original.
pub struct Paging(pub Page);

fn paging(req: &HttpRequest) -> Result<Paging, AppError> {
    let parse = |name: &str, max: i64| -> Result<Option<i64>, AppError> {
        match query_param(req, name) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (0..=max).contains(&n) => Ok(Some(n)),
                _ => Err(AppError::bad_request(format!(
                    "`{name}` must be an integer from 0 to {max}"
                ))),
            },
        }
    };
    Ok(Paging(Page {
        limit: parse("limit", 100_000)?.unwrap_or(-1),
        offset: parse("offset", i64::MAX / 2)?.unwrap_or(0),
    }))
}

impl FromRequest for Paging {
    type Error = AppError;
    type Future = Ready<Result<Paging, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(paging(req))
    }
}
