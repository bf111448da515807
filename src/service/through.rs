//! Read-through: before an environment's first sync has finished (a cold start against a slow
//! or large Palette), mirror routes ask Palette directly — the calls the original plugin made —
//! instead of failing. Answers carry `X-SpectroCloud-Source: live`; they use the caller's
//! Palette token when there is one (Palette then scopes them) and honour the caller's
//! visibility and the environment's include/exclude lists like the mirror does. Palette being
//! unreachable here is 503 `not_synced`, as on any mirror route without data.

use std::collections::HashSet;

use futures::{StreamExt, stream};
use serde_json::{Value, json};

use super::{Answer, Ctx, not_found, not_synced};
use crate::auth::scope::{Kind, Visibility};
use crate::domain::Scope;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::palette::client::{Answer as Reply, Call, Listing, list_items, virtual_cluster_filter};
use crate::palette::models;
use crate::store::Page;

/// Project scopes listed at once for one answer.
const FAN_OUT: usize = 8;

/// `offset`/`limit` of a list route over items already in memory.
pub fn page_of(items: Vec<Value>, page: Page) -> Vec<Value> {
    let take = usize::try_from(page.limit).unwrap_or(usize::MAX);
    let skip = usize::try_from(page.offset).unwrap_or(0);
    items.into_iter().skip(skip).take(take).collect()
}

/// The items of a list answer in any of Palette's shapes (`{items}`, `{summaries}`, array);
/// any other answer (a number, `{}`, an error page) is a Palette error, never an empty list.
fn items_of(path: &str, v: Value) -> AppResult<Vec<Value>> {
    list_items(&format!("GET {path}"), v).map_err(AppError::from)
}

/// A mirror read answered live before the first sync: the caller's Palette credential and
/// what the caller may see.
pub struct Through<'a> {
    pub ctx: &'a Ctx,
    pub vis: Visibility,
}

impl Through<'_> {
    /// Palette unreachable before the first sync is 503 `not_synced`, as on any mirror route.
    pub fn unreachable(&self, e: AppError) -> AppError {
        if e.code == ErrorCode::PaletteUnreachable {
            not_synced(self.ctx.env.name(), &format!(": {}", e.message))
        } else {
            e
        }
    }

    async fn send(&self, call: Call<'_>) -> AppResult<Reply> {
        self.ctx.send(call).await.map_err(|e| self.unreachable(e))
    }

    async fn pages(&self, call: Call<'_>) -> AppResult<Listing> {
        self.ctx.pages(call).await.map_err(|e| self.unreachable(e))
    }

    /// A GET of `path` in `project`'s scope (tenant scope when `None`).
    pub fn get<'a>(&'a self, path: String, project: Option<&'a str>) -> Call<'a> {
        self.ctx.env.client.get(path).project(project)
    }

    async fn fetch(&self, call: Call<'_>, what: &str) -> AppResult<Reply> {
        self.send(call).await.map_err(|e| match e.code {
            ErrorCode::NotFound => not_found(what),
            _ => e,
        })
    }

    /// One Palette object as JSON; Palette's 404 is ours, naming `what`.
    pub async fn value(&self, call: Call<'_>, what: &str) -> AppResult<Value> {
        let path = call.path().to_string();
        self.fetch(call, what)
            .await?
            .json(&path)
            .map_err(AppError::from)
    }

    /// One Palette object, passed on as Palette sent it.
    pub async fn object(&self, call: Call<'_>, what: &str) -> AppResult<Answer> {
        let answer = self.fetch(call, what).await?;
        Ok(Answer::live_bytes(answer.body))
    }

    /// `{"<key>": [...]}` of a non-paginated Palette list (`{items}`, `{summaries}`, array).
    pub async fn items(
        &self,
        key: &str,
        path: &str,
        project: Option<&str>,
        page: Page,
    ) -> AppResult<Answer> {
        let v = self
            .send(self.ctx.env.client.get(path).project(project).listing())
            .await?
            .json(path)
            .map_err(AppError::from)?;
        Answer::live_json(&json!({ key: page_of(items_of(path, v)?, page) }))
    }

    /// The projects the caller may see, after the environment's include/exclude lists.
    pub async fn projects(&self) -> AppResult<Vec<Value>> {
        let body = json!({"filter": {}, "sort": [{"field": "name", "order": "asc"}]});
        let listing = self
            .pages(
                self.ctx
                    .env
                    .client
                    .post("/v1/dashboard/projects")
                    .json_body(body),
            )
            .await?;
        let cfg = &self.ctx.env.config;
        let visible = self.vis.projects();
        Ok(listing
            .items
            .into_iter()
            .filter(|p| {
                let name = models::name(p);
                (cfg.include_projects.is_empty() || cfg.include_projects.iter().any(|i| i == name))
                    && !cfg.exclude_projects.iter().any(|x| x == name)
                    && visible
                        .is_none_or(|v| models::uid(p).is_some_and(|u| v.iter().any(|x| x == u)))
            })
            .collect())
    }

    /// `{"<key>": [...]}` of a kind listed in the tenant scope (when the caller sees tenant
    /// objects of that kind) and in every visible project, deduplicated by uid.
    pub async fn everywhere<'a, F, Fut>(
        &'a self,
        key: &str,
        kind: Kind,
        page: Page,
        list: F,
    ) -> AppResult<Answer>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: Future<Output = AppResult<Listing>> + 'a,
    {
        let projects = self.projects().await?;
        let tenant = self.vis.filter(kind).tenant;
        let scopes: Vec<Option<String>> = tenant
            .then_some(None)
            .into_iter()
            .chain(
                projects
                    .iter()
                    .filter_map(|p| models::uid(p).map(|u| Some(u.to_string()))),
            )
            .collect();
        let results: Vec<(bool, AppResult<Listing>)> = stream::iter(scopes)
            .map(|s| {
                let in_tenant = s.is_none();
                let fut = list(s);
                async move { (in_tenant, fut.await) }
            })
            .buffered(FAN_OUT)
            .collect()
            .await;
        let mut seen = HashSet::new();
        let mut items = Vec::new();
        for (in_tenant, result) in results {
            let listing = match result {
                Ok(l) => l,
                // A scope the credential may not list contributes nothing, as in the original.
                Err(e) if matches!(e.code, ErrorCode::PaletteDenied | ErrorCode::NotFound) => {
                    continue;
                }
                Err(e) => return Err(e),
            };
            for item in listing.items {
                // The tenant scope lists project objects too; the original kept tenant ones.
                if in_tenant && Scope::from_palette(models::scope(&item)) != Scope::Tenant {
                    continue;
                }
                if models::uid(&item).is_some_and(|u| seen.insert(u.to_string())) {
                    items.push(item);
                }
            }
        }
        Answer::live_json(&json!({ key: page_of(items, page) }))
    }

    /// Clusters in one scope: the `meta` listing, or the paged search where Palette lacks it.
    pub async fn clusters_in(&self, project: Option<String>) -> AppResult<Listing> {
        let client = &self.ctx.env.client;
        let (p, meta) = (project.as_deref(), "/v1/dashboard/spectroclusters/meta");
        match self.send(client.get(meta).project(p).listing()).await {
            Ok(a) => Ok(Listing {
                items: items_of(meta, a.json(meta)?)?,
                pages: 1,
                complete: true,
            }),
            Err(e) if e.code == ErrorCode::NotFound => {
                let body =
                    json!({"filter": {}, "sort": [{"field": "clusterName", "order": "asc"}]});
                self.pages(
                    client
                        .post("/v1/dashboard/spectroclusters/search")
                        .json_body(body)
                        .project(p),
                )
                .await
            }
            Err(e) => Err(e),
        }
    }

    /// Virtual clusters in one scope (the original's search).
    pub async fn virtual_clusters_in(&self, project: Option<String>) -> AppResult<Listing> {
        self.pages(
            self.ctx
                .env
                .client
                .post("/v1/dashboard/spectroclusters/search")
                .json_body(virtual_cluster_filter())
                .project(project.as_deref()),
        )
        .await
    }

    /// Cluster profiles listed in one scope (`None` = tenant), every page.
    pub async fn profiles_in(&self, project: Option<&str>, body: Value) -> AppResult<Vec<Value>> {
        Ok(self
            .pages(
                self.ctx
                    .env
                    .client
                    .post("/v1/dashboard/clusterprofiles")
                    .json_body(body)
                    .project(project),
            )
            .await?
            .items)
    }
}
