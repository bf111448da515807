//! `/overlords` (private cloud gateways) from the mirror; their vSphere IP pools live.

use super::extract::{Context, Paging, Project, Target};
use super::respond::{Reply, json};
use crate::domain::Uid;
use crate::service::infra;

/// `{items: [...]}`, Palette's own shape.
pub async fn list(Context(ctx): Context, Project(project): Project, page: Paging) -> Reply {
    Ok(json(
        infra::overlords(&ctx, project.as_ref(), page.0).await?,
    ))
}

pub async fn ip_pools(Context(ctx): Context, t: Target) -> Reply {
    let path = format!("/v1/overlords/vsphere/{}/pools", t.uid);
    Ok(json(
        ctx.get_live(path, t.project().map(Uid::as_str)).await?,
    ))
}
