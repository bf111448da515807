//! `/users/me/projects` (mirror) and `/users/sshkeys` (live).

use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::extract::{Live, Mirror, project_param};
use crate::error::AppResult;
use crate::store::projects;

/// `{projects: [{uid, name}]}`: the projects the Palette user can access (all mirrored
/// projects for the environment key).
pub async fn my_projects(m: Mirror) -> AppResult<HttpResponse> {
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
