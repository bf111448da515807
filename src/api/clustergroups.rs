//! `/clustergroups`, from the mirror.

use super::extract::{Context, Paging, Project, Target};
use super::respond::{Reply, json};
use crate::service::infra;

/// `{items: [...]}`, as the original normalises Palette's `summaries`.
pub async fn list(Context(ctx): Context, Project(project): Project, page: Paging) -> Reply {
    Ok(json(
        infra::cluster_groups(&ctx, project.as_ref(), page.0).await?,
    ))
}

pub async fn detail(Context(ctx): Context, t: Target) -> Reply {
    Ok(json(infra::cluster_group(&ctx, &t.uid, t.project()).await?))
}
