//! `/users/me/projects` (mirror) and `/users/sshkeys` (live).

use actix_web::{HttpRequest, HttpResponse};

use super::extract::{Context, project_param};
use super::respond::json;
use crate::domain::Uid;
use crate::error::AppResult;
use crate::service::projects;

/// `{projects: [{uid, name}]}`: the projects the Palette user can access.
pub async fn my_projects(Context(ctx): Context) -> AppResult<HttpResponse> {
    Ok(json(projects::mine(&ctx).await?))
}

pub async fn ssh_keys(Context(ctx): Context, req: HttpRequest) -> AppResult<HttpResponse> {
    let project = project_param(&req)?;
    let path = "/v1/users/assets/sshkeys".to_string();
    Ok(json(
        ctx.get_live(path, project.as_ref().map(Uid::as_str))
            .await?,
    ))
}
