//! Checks against the mirror: the cloud account exists and is of the cluster's cloud, every
//! profile uid is a mirrored profile version usable for that cloud. Skipped for a kind the
//! mirror does not hold yet (before the first sync), where Palette remains the judge.

use serde_json::Value;

use crate::error::{AppResult, Problem};
use crate::store::{Db, infra, profiles};

/// The account kind a cluster of endpoint `cloud` needs.
pub fn account_kind(cloud: &str) -> &str {
    match cloud {
        "eks" | "aws" => "aws",
        "aks" | "azure" => "azure",
        other => other,
    }
}

/// Whether a profile of `profile_cloud` may be used on a `cloud` cluster.
pub fn profile_fits(cloud: &str, profile_cloud: &str) -> bool {
    matches!(profile_cloud, "" | "all") || profile_cloud == cloud
}

pub async fn problems(db: &Db, env: &str, cloud: &str, body: &Value) -> AppResult<Vec<Problem>> {
    let mut out = Vec::new();
    let spec = &body["spec"];
    if let Some(uid) = spec["cloudAccountUid"].as_str().filter(|u| !u.is_empty())
        && cloud != "virtual"
        && infra::has_accounts(db, env).await?
    {
        let want = account_kind(cloud);
        match infra::account_cloud(db, env, uid).await? {
            None => out.push(Problem::new(
                "spec.cloudAccountUid",
                format!("cloud account {uid} does not exist"),
            )),
            Some(kind) if kind != want => out.push(Problem::new(
                "spec.cloudAccountUid",
                format!("cloud account {uid} is a {kind} account; {cloud} clusters need a {want} account"),
            )),
            Some(_) => {}
        }
    }
    let list = spec["profiles"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if list.is_empty() || !profiles::has_versions(db, env).await? {
        return Ok(out);
    }
    for (i, p) in list.iter().enumerate() {
        let Some(uid) = p["uid"].as_str().filter(|u| !u.is_empty()) else {
            continue;
        };
        let field = format!("spec.profiles[{i}].uid");
        match profiles::version_kind(db, env, uid).await? {
            None => out.push(Problem::new(
                field,
                format!("{uid} is not a cluster profile version"),
            )),
            Some((pc, _)) if cloud != "virtual" && !profile_fits(cloud, &pc) => {
                out.push(Problem::new(
                    field,
                    format!("profile version {uid} is for {pc} clusters, not {cloud}"),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(out)
}
