//! `GET <base>/ui/`: the fleet page of one environment (`?instance=`), its sections filled by
//! the same service functions the HTTP API and MCP tools call, each behind the permission its
//! API route needs (no permission → the section says so). Sections load side by side.

use std::future::Future;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::session;
use super::view::{self, EnvRow, FleetView, PackSearch, Profiles};
use crate::api::extract::{app_state, query_param};
use crate::api::respond::csv;
use crate::auth::Caller;
use crate::auth::palette_user::{self, PaletteUser};
use crate::config::AuthMode;
use crate::domain::Permission;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::service::{self, Ctx, reports};
use crate::ui::charts::{BarChart, TrendChart};

/// What a section shows: its data, or why not.
pub enum Section<T> {
    Ready(T),
    /// The caller lacks this permission.
    Denied(&'static str),
    /// No data to show (not synced yet, not available, an error), and why.
    Missing(String),
}

impl<T> Section<T> {
    pub fn ready(&self) -> Option<&T> {
        match self {
            Section::Ready(t) => Some(t),
            _ => None,
        }
    }

    /// The sentence shown instead of the data.
    pub fn note(&self) -> String {
        match self {
            Section::Ready(_) => String::new(),
            Section::Denied(p) => format!("You do not have the permission {p} needed here."),
            Section::Missing(why) => why.clone(),
        }
    }

    pub fn denied(&self) -> bool {
        matches!(self, Section::Denied(_))
    }
}

/// A service error as a section's sentence (service messages never carry secrets).
fn missing(e: &AppError) -> String {
    match e.code {
        ErrorCode::NotSynced => {
            "No data yet: the first sync of this environment has not finished.".into()
        }
        // A part this build does not have: said as is.
        ErrorCode::NotFound => e.message.clone(),
        _ => format!("Could not load this section: {}", e.message),
    }
}

/// Decides each section's permission once, then runs its service call.
struct Gate<'a> {
    ctx: &'a Ctx,
    /// `require_user_token` applies and the request has no usable Palette user token.
    user_missing: bool,
}

impl Gate<'_> {
    async fn run<T, F>(&self, perm: Permission, load: F) -> Section<T>
    where
        F: Future<Output = AppResult<T>>,
    {
        if !self.ctx.caller.may(perm) {
            return Section::Denied(perm.id());
        }
        if self.user_missing {
            return Section::Missing(
                "This environment requires a Palette user token, and this session has none.".into(),
            );
        }
        match load.await {
            Ok(t) => Section::Ready(t),
            Err(e) => Section::Missing(missing(&e)),
        }
    }
}

#[derive(Template)]
#[template(path = "fleet.html")]
struct FleetPage {
    root: String,
    env: String,
    subject: String,
    /// A sign-out button is shown (not in mode `none`).
    signed_in: bool,
    envs: Section<Vec<EnvRow>>,
    fleet: Section<FleetView>,
    k8s: Section<BarChart>,
    trend: Section<TrendChart>,
    profiles: Section<Profiles>,
    packs: Section<PackSearch>,
    pack_name: String,
    pack_version: String,
    changes: Section<Vec<view::ChangeRow>>,
    links: view::Links,
}

/// The page's own inputs.
struct Query {
    instance: Option<String>,
    pack: Option<String>,
    version: Option<String>,
}

fn query(req: &HttpRequest) -> Query {
    let get = |k: &str| {
        query_param(req, k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    Query {
        instance: get("instance"),
        pack: get("pack"),
        version: get("version"),
    }
}

/// The context of a page request: None when the caller must sign in first; with whether
/// `require_user_token` applies and the session has no usable Palette user token.
async fn page_ctx(req: &HttpRequest, q: &Query) -> Result<Option<(Ctx, bool)>, AppError> {
    let state = app_state(req)?;
    let Some(caller) = session::caller(req, &state).await? else {
        return Ok(None);
    };
    let env = service::environment(&state, q.instance.as_deref())?;
    let user = palette_user_of(req, &state, &env, &caller).await;
    let user_missing = env.config.requires_user_token(&state.config.auth) && !user.usable();
    let ctx = Ctx {
        state,
        env,
        user: Arc::new(user),
        caller,
    };
    Ok(Some((ctx, user_missing)))
}

pub async fn fleet(req: HttpRequest) -> Result<HttpResponse, AppError> {
    let q = query(&req);
    let Some((ctx, user_missing)) = page_ctx(&req, &q).await? else {
        let state = app_state(&req)?;
        return Ok(session::to_sign_in(&state));
    };
    let page = render(&ctx, &q, user_missing).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page))
}

/// Which CSV a download route serves.
#[derive(Clone, Copy)]
pub enum Csv {
    ProfileUsage,
    PackUsage,
}

/// `GET /ui/profile-usage.csv`, `/ui/pack-usage.csv`: the reports' CSV for a signed-in
/// browser, which cannot send the API's `Authorization` header with a plain link.
pub async fn download(req: HttpRequest, which: Csv) -> Result<HttpResponse, AppError> {
    let q = query(&req);
    let Some((ctx, user_missing)) = page_ctx(&req, &q).await? else {
        let state = app_state(&req)?;
        return Ok(session::to_sign_in(&state));
    };
    let perm = Permission::ProfileViewClusters;
    if !ctx.caller.may(perm) {
        return Err(perm.denied());
    }
    if user_missing {
        return Err(AppError::unauthenticated(
            "this environment requires a Palette user token",
        ));
    }
    Ok(match which {
        Csv::ProfileUsage => {
            let filter = reports::ProfileUsageFilter::default();
            csv(
                reports::profile_usage_csv(&ctx, &filter).await?,
                "profile-usage.csv",
            )
        }
        Csv::PackUsage => {
            let filter = reports::PackUsageFilter {
                name: query_param(&req, "name").filter(|v| !v.is_empty()),
                version: q.version.clone(),
                tag: None,
            };
            csv(
                reports::pack_usage_csv(&ctx, &filter).await?,
                "pack-usage.csv",
            )
        }
    })
}

/// The Palette user as the API resolves it (a static token's configured user, else none:
/// the environment key's view).
async fn palette_user_of(
    req: &HttpRequest,
    state: &crate::service::AppState,
    env: &Arc<crate::palette::Environment>,
    caller: &Caller,
) -> PaletteUser {
    let binding = caller.binding();
    let who = palette_user::Request {
        headers: req.headers(),
        env: Some(env),
        subject: &caller.subject,
        binding: &binding,
    };
    PaletteUser::resolve(who, &state.tokens, &state.scopes, &state.db).await
}

async fn render(ctx: &Ctx, q: &Query, user_missing: bool) -> Result<String, AppError> {
    let gate = Gate { ctx, user_missing };
    let root = session::ui_root(&ctx.state);
    let env = ctx.env.name().to_string();
    // Without caller authentication the API's own CSV links work; with it, a browser link
    // carries only the page's cookie, so the page serves the same CSV itself.
    let via_page = ctx.state.config.auth.mode != AuthMode::None;
    let links = view::Links::new(&ctx.state.config.server.base_path, &root, &env, via_page);
    let pack = q.pack.as_deref();
    let (envs, fleet, trend, profiles, packs, changes) = futures::join!(
        gate.run(Permission::ClusterViewInfo, view::environments(ctx, &root)),
        gate.run(Permission::ClusterViewInfo, view::fleet(ctx)),
        gate.run(Permission::ClusterViewInfo, view::trend(ctx)),
        gate.run(Permission::ProfileViewClusters, view::profiles(ctx)),
        gate.run(
            Permission::ProfileViewClusters,
            view::packs(ctx, &root, pack, q.version.as_deref())
        ),
        gate.run(Permission::ClusterViewInfo, view::changes(ctx)),
    );
    let k8s = match &fleet {
        Section::Ready(f) => Section::Ready(f.k8s_chart()),
        Section::Denied(p) => Section::Denied(p),
        Section::Missing(why) => Section::Missing(why.clone()),
    };
    FleetPage {
        signed_in: ctx.state.config.auth.mode != AuthMode::None,
        subject: ctx.caller.subject.clone(),
        root,
        env,
        envs,
        fleet,
        k8s,
        trend,
        profiles,
        packs,
        pack_name: q.pack.clone().unwrap_or_default(),
        pack_version: q.version.clone().unwrap_or_default(),
        changes,
        links,
    }
    .render()
    .map_err(|e| AppError::internal("rendering the fleet page", e))
}
