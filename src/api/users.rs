//! `/users/me/projects` (mirror) and `/users/sshkeys` (live).

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::extract::{Live, Read, project_param};
use crate::error::AppResult;
use crate::palette::models;
use crate::store::projects;

/// `{projects: [{uid, name}]}`: the projects the Palette user can access (all mirrored
/// projects for the environment key).
pub async fn my_projects(read: Read) -> AppResult<HttpResponse> {
    let m = match read {
        Read::Mirror(m) => m,
        Read::Through(t) => {
            let list: Vec<_> = t
                .projects()
                .await?
                .iter()
                .map(|p| json!({ "uid": models::uid(p), "name": models::name(p) }))
                .collect();
            return Ok(Live::json(&json!({ "projects": list })));
        }
    };
    let names = projects::names(&m.state.db, m.env.name(), m.vis.projects()).await?;
    let list: Vec<_> = names
        .into_iter()
        .map(|(uid, name)| json!({ "uid": uid, "name": name }))
        .collect();
    Ok(m.json(&json!({ "projects": list })))
}

pub async fn ssh_keys(live: Live, req: HttpRequest) -> AppResult<HttpResponse> {
    let project = project_param(&req)?;
    let answer = live
        .send(
            live.env
                .client
                .get("/v1/users/assets/sshkeys")
                .project(project.as_deref()),
        )
        .await?;
    Ok(Live::json_bytes(answer.body))
}
