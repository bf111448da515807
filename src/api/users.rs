//! `/users/me/projects` (mirror) and `/users/sshkeys` (live).

use super::extract::{Context, Project};
use super::respond::{Reply, json};
use crate::domain::Uid;
use crate::service::projects;

/// `{projects: [{uid, name}]}`: the projects the Palette user can access.
pub async fn my_projects(Context(ctx): Context) -> Reply {
    Ok(json(projects::mine(&ctx).await?))
}

pub async fn ssh_keys(Context(ctx): Context, Project(project): Project) -> Reply {
    let path = "/v1/users/assets/sshkeys".to_string();
    Ok(json(
        ctx.get_live(path, project.as_ref().map(Uid::as_str))
            .await?,
    ))
}
