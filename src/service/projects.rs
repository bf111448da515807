//! Projects, the profiles usable in one, and the Palette user's own projects.

use serde_json::{Value, json};

use super::profiles::{Listing, Summaries};
use super::view::View;
use std::collections::HashMap;

use serde::Serialize;

use super::{Answer, Body, Ctx, Origin, not_found, to_text};
use crate::auth::scope::Kind;
use crate::domain::{CloudType, ProfileType, Uid};
use crate::error::AppResult;
use crate::palette::models;
use crate::service::through::page_of;
use crate::store::{Page, profiles, projects};

/// `{projects: [...]}`: Palette's project objects the caller can see.
pub async fn list(ctx: &Ctx, page: Page) -> AppResult<Answer> {
    match ctx.view().await? {
        View::Mirror(m) => {
            let items = projects::list(m.db(), m.env(), m.vis.projects(), page).await?;
            Ok(m.list("projects", &items))
        }
        View::Through(t) => {
            let items = page_of(t.projects().await?, page);
            Answer::live_json(&json!({ "projects": items }))
        }
    }
}

/// A project the caller can see, by uid and name (Palette may leave the uid out).
#[derive(Debug, Clone, Serialize)]
pub struct ProjectRef {
    pub uid: Option<String>,
    pub name: String,
}

/// The projects the Palette user can access, and where the list came from.
#[derive(Debug)]
pub struct Mine {
    pub origin: Origin,
    pub projects: Vec<ProjectRef>,
}

impl Mine {
    /// Project uid → name.
    pub fn names(&self) -> HashMap<String, String> {
        self.projects
            .iter()
            .filter_map(|p| Some((p.uid.clone()?, p.name.clone())))
            .collect()
    }
}

/// The projects the Palette user can access (all of them for the environment's key).
pub async fn visible(ctx: &Ctx) -> AppResult<Mine> {
    match ctx.view().await? {
        View::Mirror(m) => {
            let names = projects::names(m.db(), m.env(), m.vis.projects()).await?;
            let projects = names
                .into_iter()
                .map(|p| ProjectRef {
                    uid: Some(p.uid),
                    name: p.name,
                })
                .collect();
            Ok(Mine {
                origin: Origin::Mirror(m.freshness),
                projects,
            })
        }
        View::Through(t) => {
            let projects = t
                .projects()
                .await?
                .iter()
                .map(|p| ProjectRef {
                    uid: models::uid(p).map(str::to_string),
                    name: models::name(p).to_string(),
                })
                .collect();
            Ok(Mine {
                origin: Origin::Live,
                projects,
            })
        }
    }
}

/// `{projects: [{uid, name}]}`: [`visible`] as an answer.
pub async fn mine(ctx: &Ctx) -> AppResult<Answer> {
    let mine = visible(ctx).await?;
    Ok(Answer {
        origin: mine.origin,
        body: Body::Text(to_text(&json!({ "projects": mine.projects }))?),
    })
}

/// Profiles usable in a project (its own and tenant ones), newest first, of these types and,
/// when given, this cloud type. An unknown or invisible project is 404.
pub async fn profiles(
    ctx: &Ctx,
    project: &Uid,
    cloud: Option<&CloudType>,
    types: &[ProfileType],
    page: Page,
) -> AppResult<Answer> {
    usable(ctx, project, cloud, types, page).await?.answer()
}

/// [`profiles`] as summaries.
pub async fn profile_summaries(
    ctx: &Ctx,
    project: &Uid,
    cloud: Option<&CloudType>,
    types: &[ProfileType],
    page: Page,
) -> AppResult<Summaries> {
    usable(ctx, project, cloud, types, page).await?.summaries()
}

async fn usable(
    ctx: &Ctx,
    project: &Uid,
    cloud: Option<&CloudType>,
    types: &[ProfileType],
    page: Page,
) -> AppResult<Listing> {
    let type_names: Vec<String> = types.iter().map(|t| t.as_str().to_string()).collect();
    let cloud = cloud.map(CloudType::as_str);
    let m = match ctx.view().await? {
        View::Mirror(m) => m,
        View::Through(t) => {
            let known = t.projects().await?;
            if !known
                .iter()
                .any(|p| models::uid(p) == Some(project.as_str()))
            {
                return Err(not_found("Project"));
            }
            // The original's query; Palette filters, and so do we in case it did not.
            let mut filter = json!({"profileType": type_names, "resourceType": "spectrocluster"});
            if let Some(c) = cloud {
                filter["environment"] = json!([c]);
            }
            let body = json!({"filter": filter, "sort": [{"field": "lastModifiedTimestamp", "order": "desc"}]});
            let items: Vec<Value> = t
                .profiles_in(Some(project), body)
                .await?
                .into_iter()
                .filter(|p| {
                    type_names.iter().any(|t| t == models::profile_type(p))
                        && cloud.is_none_or(|c| c == models::profile_cloud_type(p))
                })
                .collect();
            return Ok(Listing::Live(page_of(items, page)));
        }
    };
    let visible = m
        .vis
        .projects()
        .is_none_or(|p| p.iter().any(|x| x == project.as_str()));
    if !visible || !projects::exists(m.db(), m.env(), project).await? {
        return Err(not_found("Project"));
    }
    let f = m.filter(Kind::Profile);
    let q = profiles::ForProject {
        project,
        cloud_type: cloud,
        profile_types: &type_names,
    };
    let items = profiles::for_project(m.db(), m.env(), &q, &f, page).await?;
    Ok(Listing::Stored(m.freshness, items))
}

/// The project given by uid or by name (any case), among those the caller can see; neither
/// given is `None` (every project). An unknown project is an error, never an empty answer.
pub async fn resolve(ctx: &Ctx, name: Option<&str>, uid: Option<&Uid>) -> AppResult<Option<Uid>> {
    let name = name.filter(|n| !n.is_empty());
    if uid.is_none() && name.is_none() {
        return Ok(None);
    }
    let known: Vec<(String, String)> = visible(ctx)
        .await?
        .projects
        .into_iter()
        .map(|p| (p.uid.unwrap_or_default(), p.name))
        .collect();
    if let Some(u) = uid {
        return match known.iter().any(|(k, _)| k == u.as_str()) {
            true => Ok(Some(u.clone())),
            false => Err(not_found("Project")),
        };
    }
    let name = name.unwrap_or_default();
    let rows: Vec<crate::store::NamedRow> = known
        .iter()
        .filter(|(_, n)| n.eq_ignore_ascii_case(name))
        .map(|(u, n)| crate::store::NamedRow {
            uid: u.clone(),
            name: n.clone(),
            scope: "project".into(),
            project_uid: Some(u.clone()),
            project_name: Some(n.clone()),
        })
        .collect();
    let names: Vec<String> = known.into_iter().map(|(_, n)| n).collect();
    let lookup = super::names::Lookup {
        what: "project",
        name,
        env: ctx.env.name(),
        project: None,
        narrow: "projectUid",
    };
    let one = super::names::pick(&lookup, rows, &names)?;
    Uid::parse("projectUid", &one.uid).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_leave_out_projects_without_a_uid() {
        let p = |uid: Option<&str>, name: &str| ProjectRef {
            uid: uid.map(str::to_string),
            name: name.to_string(),
        };
        let mine = Mine {
            origin: Origin::Live,
            projects: vec![p(Some("a1"), "alpha"), p(None, "ghost")],
        };
        let names = mine.names();
        assert_eq!(names.len(), 1);
        assert_eq!(names.get("a1").map(String::as_str), Some("alpha"));
    }
}
