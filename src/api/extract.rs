//! Request extractors shared by the handlers: the environment (`instance`), the caller and the
//! Palette user put there by the auth middleware, paging, validated path parameters, and the
//! two ways to answer — from the mirror, or live from Palette.

use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures::future::LocalBoxFuture;

use crate::app::AppState;
use crate::auth::Caller;
use crate::auth::palette_user::PaletteUser;
use crate::auth::scope::{self, Visibility};
use crate::error::{AppError, ErrorCode};
use crate::palette::Environment;
use crate::palette::models::is_valid_uid;
use crate::store::Page;
use crate::sync::{Freshness, Trigger};

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

/// A Palette uid from the path or query: short alphanumeric; anything else never reaches Palette.
pub fn uid<'a>(what: &str, value: &'a str) -> Result<&'a str, AppError> {
    if is_valid_uid(value) {
        Ok(value)
    } else {
        Err(AppError::bad_request(format!(
            "invalid {what} `{}`: Palette uids are short alphanumeric strings",
            value.chars().take(64).collect::<String>()
        )))
    }
}

/// The optional `projectUid` query parameter, validated.
pub fn project_param(req: &HttpRequest) -> Result<Option<String>, AppError> {
    match query_param(req, "projectUid").filter(|p| !p.is_empty()) {
        Some(p) => uid("projectUid", &p).map(|p| Some(p.to_string())),
        None => Ok(None),
    }
}

fn environment(req: &HttpRequest) -> Result<Arc<Environment>, AppError> {
    let state = app_state(req)?;
    let name = query_param(req, "instance").filter(|n| !n.is_empty());
    match state.envs.get(name.as_deref()) {
        Some(e) => Ok(e.clone()),
        None => Err(match name {
            Some(n) => AppError::unknown_instance(&n),
            None => AppError::new(
                ErrorCode::UnknownInstance,
                "no SpectroCloud environment is configured",
            ),
        }),
    }
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
        ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or_else(|| AppError::unauthenticated("authentication required")),
        )
    }
}

/// The Palette user of the request (none when no user headers were sent).
pub struct User(pub Arc<PaletteUser>);

impl FromRequest for User {
    type Error = AppError;
    type Future = Ready<Result<User, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user = req
            .extensions()
            .get::<Arc<PaletteUser>>()
            .cloned()
            .unwrap_or_else(|| Arc::new(PaletteUser::none()));
        ready(Ok(User(user)))
    }
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

/// A read served from the mirror: the environment, what the caller's Palette user may see,
/// and how fresh the data is (for the `X-SpectroCloud-*` headers). As an extractor it needs
/// the mirror: before the first sync it answers 503 `not_synced` (routes that can ask Palette
/// instead take [`Read`]).
pub struct Mirror {
    pub state: web::Data<AppState>,
    pub env: Arc<Environment>,
    pub vis: Visibility,
    pub freshness: Freshness,
    pub user: Arc<PaletteUser>,
}

/// A read of a mirror route: from the mirror, or — before the environment's first sync has
/// finished, while Palette answers — read through to Palette (see `api::through`).
pub enum Read {
    Mirror(Mirror),
    Through(Through),
}

/// A mirror route answered live before the first sync: the caller's Palette credential and
/// what the caller may see.
pub struct Through {
    pub live: Live,
    pub vis: Visibility,
}

/// Whether an environment's mirror can answer yet.
pub enum Readiness {
    /// It holds a whole snapshot.
    Mirror(Freshness),
    /// No snapshot yet, but Palette is not known to be unreachable: ask it directly.
    ReadThrough,
}

/// How long a mirror read waits for an environment's first sync before reading through.
const FIRST_SYNC_WAIT: Duration = Duration::from_secs(10);
/// Reads start a first sync at most this often.
const FIRST_SYNC_PACE: Duration = Duration::from_secs(5);

/// Before the first successful sync there is no data: start a sync if none runs and wait for
/// it a little. If it did not succeed, read through to Palette — unless Palette could not be
/// reached, which is 503 `not_synced`.
pub async fn first_sync(state: &AppState, env: &str) -> Result<Readiness, AppError> {
    let fresh = state.sync.freshness(env);
    if fresh.synced_at.is_some() {
        return Ok(Readiness::Mirror(fresh));
    }
    // Another process (`sync --once`) may have synced it.
    state.sync.reload(env).await?;
    let fresh = state.sync.freshness(env);
    if fresh.synced_at.is_some() {
        return Ok(Readiness::Mirror(fresh));
    }
    // Start one unless one ended moments ago: a burst of reads while Palette is down must not
    // turn into a burst of runs.
    let s = state.sync.env_state(env);
    let recently = s
        .last_attempt_ended
        .is_some_and(|t| t.elapsed() < FIRST_SYNC_PACE);
    if s.running.is_none()
        && !recently
        && let Err(e) = state.sync.trigger(env, Trigger::Startup).await
    {
        tracing::warn!(env, error = %e, "cannot start the first sync");
    }
    // Wait for the run until it is FIRST_SYNC_WAIT old: a read arriving late in a long first
    // sync reads through at once instead of waiting the full time again.
    let started = std::time::Instant::now();
    while let Some(run) = state.sync.env_state(env).running {
        let age = chrono::DateTime::parse_from_rfc3339(&run.started_at)
            .map(|t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                    .to_std()
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        if age.max(started.elapsed()) >= FIRST_SYNC_WAIT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fresh = state.sync.freshness(env);
    if fresh.synced_at.is_some() {
        return Ok(Readiness::Mirror(fresh));
    }
    if !state.sync.env_state(env).unreachable {
        return Ok(Readiness::ReadThrough);
    }
    let (last, _) = crate::store::sync_runs::latest(&state.db, env).await?;
    let why = last
        .and_then(|r| r.error)
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    Err(not_synced(env, &why))
}

/// 503 `not_synced`: no mirrored data for `env` yet (`why` starts with ": " when given).
pub fn not_synced(env: &str, why: &str) -> AppError {
    AppError::new(
        ErrorCode::NotSynced,
        format!("no data yet for environment `{env}`{why}"),
    )
    .with_retry_after(5)
}

fn needs_mirror(env: &str) -> AppError {
    not_synced(
        env,
        ": the first sync has not finished, and this answer needs the mirror",
    )
}

/// The mirror's freshness, or 503 `not_synced` while its first sync is still under way (for
/// answers only the mirror can give: the reverse lookup, reports, MCP tools).
pub async fn mirror_ready(state: &AppState, env: &str) -> Result<Freshness, AppError> {
    match first_sync(state, env).await? {
        Readiness::Mirror(f) => Ok(f),
        Readiness::ReadThrough => Err(needs_mirror(env)),
    }
}

impl FromRequest for Read {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Read, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            let env = environment(&req)?;
            let user = User::extract(&req).await?.0;
            let readiness = first_sync(&state, env.name()).await?;
            let vis = scope::resolve(&state.db, &state.scopes, &state.tokens, &env, &user).await?;
            Ok(match readiness {
                Readiness::Mirror(freshness) => Read::Mirror(Mirror {
                    state,
                    env,
                    vis,
                    freshness,
                    user,
                }),
                Readiness::ReadThrough => Read::Through(Through {
                    live: Live {
                        state,
                        env,
                        user,
                        caller: Caller::extract(&req).await?,
                    },
                    vis,
                }),
            })
        })
    }
}

impl Mirror {
    /// The same read answered live: a listed object whose details a progressive sync has not
    /// fetched yet is read through rather than missing.
    pub fn through(self, caller: Caller) -> Through {
        Through {
            live: Live {
                state: self.state,
                env: self.env,
                user: self.user,
                caller,
            },
            vis: self.vis,
        }
    }
}

impl FromRequest for Mirror {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Mirror, AppError>>;
    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = Read::from_request(req, payload);
        Box::pin(async move {
            match read.await? {
                Read::Mirror(m) => Ok(m),
                Read::Through(t) => Err(needs_mirror(t.live.env.name())),
            }
        })
    }
}

/// A request answered live by Palette, with the user's token or the environment's key.
pub struct Live {
    pub state: web::Data<AppState>,
    pub env: Arc<Environment>,
    pub user: Arc<PaletteUser>,
    pub caller: Caller,
}

impl FromRequest for Live {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Live, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            Ok(Live {
                state: app_state(&req)?,
                env: environment(&req)?,
                user: User::extract(&req).await?.0,
                caller: Caller::extract(&req).await?,
            })
        })
    }
}
