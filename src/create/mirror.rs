//! Checks against the mirror: the cloud account exists and is of the cluster's cloud, every
//! profile uid is a mirrored profile version usable for that cloud whose required variables
//! are given, and a vSphere IP pool belongs to the account's private cloud gateway. Skipped for
//! a kind the mirror does not hold yet (before the first sync), where Palette remains the judge.

use std::collections::HashSet;

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
        out.extend(account_problems(db, env, cloud, uid).await?);
        if cloud == "vsphere" && out.is_empty() {
            out.extend(pool_problems(db, env, uid, body).await?);
        }
    }
    out.extend(profile_problems(db, env, cloud, spec).await?);
    Ok(out)
}

async fn account_problems(db: &Db, env: &str, cloud: &str, uid: &str) -> AppResult<Vec<Problem>> {
    let want = account_kind(cloud);
    let field = "spec.cloudAccountUid";
    Ok(match infra::account_cloud(db, env, uid).await? {
        None => vec![Problem::new(
            field,
            format!("cloud account {uid} does not exist"),
        )],
        Some(kind) if kind != want => vec![Problem::new(
            field,
            format!(
                "cloud account {uid} is a {kind} account; {cloud} clusters need a {want} account"
            ),
        )],
        Some(_) => Vec::new(),
    })
}

async fn profile_problems(
    db: &Db,
    env: &str,
    cloud: &str,
    spec: &Value,
) -> AppResult<Vec<Problem>> {
    let mut out = Vec::new();
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
            Some(_) => {
                if let Some(declared) = profiles::variables(db, env, uid).await? {
                    let declared = serde_json::from_str(&declared).unwrap_or(Value::Null);
                    out.extend(missing_variables(i, uid, &declared, &p["variables"]));
                }
            }
        }
    }
    Ok(out)
}

/// The variables a version marks `required` and gives no default for, that `given`
/// (`spec.profiles[i].variables`, `[{name, value}]`) leaves without a value. SPEC's
/// `v1Variable.required`: "If it is mandatory then default value must be provided"; a
/// declared default is what Palette uses when the cluster gives none.
pub fn missing_variables(i: usize, uid: &str, declared: &Value, given: &Value) -> Vec<Problem> {
    let valued: HashSet<&str> = given
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter(|v| v["value"].as_str().is_some_and(|s| !s.trim().is_empty()))
        .filter_map(|v| v["name"].as_str())
        .collect();
    declared["variables"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter(|v| v["required"].as_bool() == Some(true))
        .filter(|v| v["defaultValue"].as_str().is_none_or(|d| d.trim().is_empty()))
        .filter_map(|v| v["name"].as_str())
        .filter(|name| !valued.contains(name))
        .map(|name| {
            Problem::new(
                format!("spec.profiles[{i}].variables"),
                format!(
                    "profile version {uid} requires variable `{name}` (no default): give {{\"name\": \"{name}\", \"value\": ...}}"
                ),
            )
        })
        .collect()
}

async fn pool_problems(db: &Db, env: &str, account: &str, body: &Value) -> AppResult<Vec<Problem>> {
    let named = named_ip_pools(body);
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let Some(gateway) = infra::account_gateway(db, env, account).await? else {
        return Ok(Vec::new());
    };
    let json = serde_json::from_str(&gateway.json).unwrap_or(Value::Null);
    Ok(foreign_pools(
        &named,
        &gateway.uid,
        &gateway.name,
        &json,
        account,
    ))
}

/// Every IP pool a vSphere body names (`network.parentPoolUid`), with its JSON path.
pub fn named_ip_pools(body: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut take = |network: &Value, at: String| {
        if let Some(uid) = network["parentPoolUid"].as_str().filter(|u| !u.is_empty()) {
            out.push((format!("{at}.network.parentPoolUid"), uid.to_string()));
        }
    };
    take(
        &body["spec"]["cloudConfig"]["placement"]["network"],
        "spec.cloudConfig.placement".into(),
    );
    let pools = body["spec"]["machinepoolconfig"].as_array();
    for (i, p) in pools.map(Vec::as_slice).unwrap_or(&[]).iter().enumerate() {
        let placements = p["cloudConfig"]["placements"].as_array();
        for (j, pl) in placements
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            take(
                &pl["network"],
                format!("spec.machinepoolconfig[{i}].cloudConfig.placements[{j}]"),
            );
        }
    }
    out
}

/// The named pools that are not among the gateway's `spec.ipPools` (as `GET /v1/overlords`
/// lists them). A gateway item without that list says nothing: no problem then.
pub fn foreign_pools(
    named: &[(String, String)],
    gateway_uid: &str,
    gateway_name: &str,
    gateway: &Value,
    account: &str,
) -> Vec<Problem> {
    let Some(pools) = gateway["spec"]["ipPools"].as_array() else {
        return Vec::new();
    };
    let known: HashSet<&str> = pools
        .iter()
        .filter_map(|p| p["metadata"]["uid"].as_str())
        .collect();
    named
        .iter()
        .filter(|(_, uid)| !known.contains(uid.as_str()))
        .map(|(field, uid)| {
            Problem::new(
                field.clone(),
                format!(
                    "IP pool {uid} is not a pool of {gateway_name} ({gateway_uid}), the private cloud gateway of cloud account {account}"
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_required_variable_without_default_must_be_given() {
        let declared = json!({"variables": [
            {"name": "owner", "required": true, "defaultValue": ""},
            {"name": "region", "required": true, "defaultValue": "eu"},
            {"name": "note", "required": false}]});
        let none = missing_variables(0, "v", &declared, &Value::Null);
        assert_eq!(none.len(), 1);
        assert_eq!(none[0].field, "spec.profiles[0].variables");
        assert!(none[0].message.contains("`owner`"));
        let empty = json!([{"name": "owner", "value": " "}]);
        assert_eq!(missing_variables(1, "v", &declared, &empty).len(), 1);
        let given = json!([{"name": "owner", "value": "team-a"}]);
        assert!(missing_variables(0, "v", &declared, &given).is_empty());
    }

    #[test]
    fn ip_pools_are_found_at_every_placement_and_checked_against_the_gateway() {
        let body = json!({"spec": {
            "cloudConfig": {"placement": {"network": {"networkName": "n", "parentPoolUid": "p0"}}},
            "machinepoolconfig": [
                {"cloudConfig": {"placements": [{"network": {"networkName": "n", "staticIp": true, "parentPoolUid": "p1"}}]}},
                {"cloudConfig": {"placements": [{"network": {"networkName": "n"}}]}}]}});
        let named = named_ip_pools(&body);
        assert_eq!(
            named,
            [
                (
                    "spec.cloudConfig.placement.network.parentPoolUid".to_string(),
                    "p0".to_string()
                ),
                (
                    "spec.machinepoolconfig[0].cloudConfig.placements[0].network.parentPoolUid"
                        .to_string(),
                    "p1".to_string()
                ),
            ]
        );
        let gateway = json!({"spec": {"ipPools": [{"metadata": {"uid": "p1"}}]}});
        let bad = foreign_pools(&named, "g", "pcg", &gateway, "a");
        assert_eq!(bad.len(), 1);
        assert_eq!(
            bad[0].field,
            "spec.cloudConfig.placement.network.parentPoolUid"
        );
        assert!(foreign_pools(&named, "g", "pcg", &json!({"spec": {}}), "a").is_empty());
    }
}
