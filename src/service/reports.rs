//! Usage reports Palette cannot answer cheaply; they need the mirror.

use serde_json::json;

use super::{Answer, Ctx};
use crate::auth::scope::Kind;
use crate::error::AppResult;
use crate::store::reports;

/// Narrowing of the profile-usage report.
#[derive(Debug, Default)]
pub struct ProfileUsageFilter {
    /// Case-insensitive substring of the profile name.
    pub name: Option<String>,
    /// Only profiles no cluster uses.
    pub unused_only: bool,
}

/// Every profile with the number of clusters on each of its versions, most used first.
pub async fn profile_usage(ctx: &Ctx, filter: &ProfileUsageFilter) -> AppResult<Answer> {
    let m = ctx.mirror().await?;
    let (pf, cf) = (m.filter(Kind::Profile), m.filter(Kind::Cluster));
    let mut profiles = reports::profile_usage(m.db(), m.env(), &pf, &cf).await?;
    // Narrowed after the one query: the report is per profile, already small.
    if let Some(needle) = filter.name.as_deref().map(str::to_lowercase) {
        profiles.retain(|p| p.name.to_lowercase().contains(&needle));
    }
    if filter.unused_only {
        profiles.retain(|p| p.unused);
    }
    let unused = profiles.iter().filter(|p| p.clusters == 0).count();
    m.json(&json!({ "environment": m.env(), "unused": unused, "profiles": profiles }))
}

/// Clusters per pack and tag; `name` (and `tag`) narrow it and list the clusters.
pub async fn pack_usage(ctx: &Ctx, name: Option<&str>, tag: Option<&str>) -> AppResult<Answer> {
    let m = ctx.mirror().await?;
    let f = m.filter(Kind::Cluster);
    let packs = reports::pack_usage(m.db(), m.env(), name, tag, &f).await?;
    m.json(&json!({ "environment": m.env(), "packs": packs }))
}
