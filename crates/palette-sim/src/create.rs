//! Cluster creation: `POST /v1/spectroclusters/{eks|aws|aks|azure|vsphere|virtual}` with the
//! schema checks real Palette applies (required cloud config fields, machine pools, existing
//! accounts and profile versions, unique names). 201 `{uid}` plus an `AuditUid` header; the new
//! cluster then moves Pending → Provisioning → Running.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde_json::{Value, json};

use super::data::{Cluster, Meta, SimData, account_cloud, new_uid};
use super::routes::{Ctx, PaletteErr};

pub const CREATABLE: [&str; 6] = ["eks", "aws", "aks", "azure", "vsphere", "virtual"];

/// Go's JSON decoding (Palette's) matches keys case-insensitively: `machinepoolconfig` and
/// `machinePoolConfig` are the same field.
fn field<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    obj.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
}

fn require_str<'a>(obj: &'a Value, key: &str, path: &str) -> Result<&'a str, PaletteErr> {
    match field(obj, key).and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(PaletteErr::bad_request(format!("{path}.{key} is required"))),
    }
}

fn require_obj<'a>(obj: &'a Value, key: &str, path: &str) -> Result<&'a Value, PaletteErr> {
    match field(obj, key) {
        Some(v) if v.is_object() => Ok(v),
        _ => Err(PaletteErr::bad_request(format!(
            "{path}.{key} is required and must be an object"
        ))),
    }
}

fn one_of(v: Option<&Value>, path: &str, allowed: &[&str]) -> Result<(), PaletteErr> {
    match v {
        None => Ok(()),
        Some(x) if x.as_str().is_some_and(|s| allowed.contains(&s)) => Ok(()),
        Some(_) => Err(PaletteErr::bad_request(format!(
            "{path} must be one of {}",
            allowed.join(", ")
        ))),
    }
}

/// The virtual cluster's host: a cluster group (its first host) or a named host cluster.
fn host_of(d: &SimData, spec: &Value) -> Result<(String, String), PaletteErr> {
    let path = "spec.clusterConfig.hostClusterConfig";
    let cluster_config = require_obj(spec, "clusterConfig", "spec")?;
    let host = require_obj(cluster_config, "hostClusterConfig", "spec.clusterConfig")?;
    one_of(
        field(host, "clusterEndpoint").and_then(|e| field(e, "type")),
        &format!("{path}.clusterEndpoint.type"),
        &["Ingress", "LoadBalancer"],
    )?;
    let uid_of = |key: &str| {
        field(host, key)
            .and_then(|o| field(o, "uid"))
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
    };
    if let Some(uid) = uid_of("clusterGroup") {
        let g = d
            .cluster_groups
            .iter()
            .find(|g| g.meta.uid == uid)
            .ok_or_else(|| {
                PaletteErr::bad_request(format!("cluster group {uid} does not exist"))
            })?;
        let first = g.host_cluster_uids.first().cloned().unwrap_or_default();
        let host = uid_of("hostCluster").map(str::to_string).unwrap_or(first);
        return Ok((g.meta.uid.clone(), host));
    }
    let uid = uid_of("hostCluster").ok_or_else(|| {
        PaletteErr::bad_request(format!("{path} needs clusterGroup.uid or hostCluster.uid"))
    })?;
    let group = d
        .cluster_groups
        .iter()
        .find(|g| g.host_cluster_uids.iter().any(|h| h == uid))
        .map(|g| g.meta.uid.clone())
        .ok_or_else(|| PaletteErr::bad_request(format!("host cluster {uid} is not a host")))?;
    Ok((group, uid.to_string()))
}

/// Virtual pools have no poolConfig; each needs `cloudConfig.instanceType`.
fn check_virtual_pools(spec: &Value) -> Result<(), PaletteErr> {
    let pools = field(spec, "machinepoolconfig")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, p) in pools.iter().enumerate() {
        let path = format!("spec.machinepoolconfig[{i}]");
        let cc = require_obj(p, "cloudConfig", &path)?;
        require_obj(cc, "instanceType", &format!("{path}.cloudConfig"))?;
    }
    Ok(())
}

/// Palette's pool enums and ranges (taints, update strategy, arch, capacity, disk, OS).
fn check_pool_enums(path: &str, pool: &Value, pc: &Value) -> Result<(), PaletteErr> {
    for (j, t) in field(pc, "taints")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let at = format!("{path}.poolConfig.taints[{j}]");
        require_str(t, "key", &at)?;
        one_of(
            Some(field(t, "effect").unwrap_or(&Value::Null)),
            &format!("{at}.effect"),
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        )?;
    }
    one_of(
        field(pc, "updateStrategy").and_then(|u| field(u, "type")),
        &format!("{path}.poolConfig.updateStrategy.type"),
        &[
            "RollingUpdateScaleOut",
            "RollingUpdateScaleIn",
            "OverrideScaling",
        ],
    )?;
    one_of(
        field(pc, "machinePoolProperties").and_then(|m| field(m, "archType")),
        &format!("{path}.poolConfig.machinePoolProperties.archType"),
        &["amd64", "arm64"],
    )?;
    let cc = field(pool, "cloudConfig");
    one_of(
        cc.and_then(|c| field(c, "capacityType")),
        &format!("{path}.cloudConfig.capacityType"),
        &["on-demand", "spot", "host-resource-group"],
    )?;
    if let Some(size) = cc.and_then(|c| field(c, "rootDeviceSize"))
        && !size.as_i64().is_some_and(|n| (1..=2000).contains(&n))
    {
        return Err(PaletteErr::bad_request(format!(
            "{path}.cloudConfig.rootDeviceSize must be from 1 to 2000"
        )));
    }
    one_of(
        field(pool, "managedPoolConfig").and_then(|m| field(m, "osType")),
        &format!("{path}.managedPoolConfig.osType"),
        &["Linux", "Windows"],
    )
}

fn check_pools(spec: &Value, cloud: &str) -> Result<u32, PaletteErr> {
    let pools = field(spec, "machinepoolconfig")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            PaletteErr::bad_request("spec.machinepoolconfig must list at least one machine pool")
        })?;
    let mut workers = 0;
    for (i, pool) in pools.iter().enumerate() {
        let path = format!("spec.machinepoolconfig[{i}]");
        let pc = require_obj(pool, "poolConfig", &path)?;
        require_str(pc, "name", &format!("{path}.poolConfig"))?;
        let size = field(pc, "size").and_then(Value::as_i64).ok_or_else(|| {
            PaletteErr::bad_request(format!("{path}.poolConfig.size is required"))
        })?;
        if size < 0 {
            return Err(PaletteErr::bad_request(format!(
                "{path}.poolConfig.size must not be negative"
            )));
        }
        if field(pc, "labels").and_then(Value::as_array).is_none() {
            return Err(PaletteErr::bad_request(format!(
                "{path}.poolConfig.labels is required"
            )));
        }
        check_pool_enums(&path, pool, pc)?;
        let cc = require_obj(pool, "cloudConfig", &path)?;
        match cloud {
            "aws" | "eks" => {
                require_str(cc, "instanceType", &format!("{path}.cloudConfig"))?;
            }
            "vsphere" => {
                let it = require_obj(cc, "instanceType", &format!("{path}.cloudConfig"))?;
                for k in ["numCPUs", "memoryMiB", "diskGiB"] {
                    if field(it, k).and_then(Value::as_i64).is_none() {
                        return Err(PaletteErr::bad_request(format!(
                            "{path}.cloudConfig.instanceType.{k} is required"
                        )));
                    }
                }
            }
            _ => {}
        }
        if !field(pc, "isControlPlane")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            workers += size as u32;
        }
    }
    Ok(workers)
}

/// Each profile is an existing version; `packValues[]`/`variables[]` entries are named
/// (`v1PackValuesEntity`, `v1SpectroClusterVariable`: `name` required); a variable the version
/// marks required with no default has a value (`v1Variable.required`: "If it is mandatory then
/// default value must be provided").
fn check_profiles(d: &SimData, spec: &Value) -> Result<Vec<String>, PaletteErr> {
    let mut refs = Vec::new();
    let list = field(spec, "profiles").and_then(Value::as_array);
    for (i, p) in list.map(Vec::as_slice).unwrap_or(&[]).iter().enumerate() {
        let at = format!("spec.profiles[{i}]");
        let uid = require_str(p, "uid", &at)?;
        let Some((_, version)) = d.version(uid) else {
            return Err(PaletteErr::bad_request(format!(
                "{at}.uid: cluster profile {uid} does not exist"
            )));
        };
        let mut valued = Vec::new();
        for key in ["packValues", "variables"] {
            let entries = field(p, key).and_then(Value::as_array);
            for (j, e) in entries.map(Vec::as_slice).unwrap_or(&[]).iter().enumerate() {
                let name = require_str(e, "name", &format!("{at}.{key}[{j}]"))?;
                let value = field(e, "value").and_then(Value::as_str).unwrap_or("");
                if key == "variables" && !value.trim().is_empty() {
                    valued.push(name);
                }
            }
        }
        if let Some(v) = version.variables.iter().find(|v| {
            v.required && v.default_value.trim().is_empty() && !valued.contains(&v.name.as_str())
        }) {
            return Err(PaletteErr::bad_request(format!(
                "{at}.variables: variable {} is required",
                v.name
            )));
        }
        refs.push(uid.to_string());
    }
    Ok(refs)
}

struct Checked {
    name: String,
    cloud_type: String,
    account: String,
    region: String,
    refs: Vec<String>,
    workers: u32,
    group: Option<(String, String)>,
}

fn check(d: &SimData, ctx: &Ctx, cloud: &str, body: &Value) -> Result<Checked, PaletteErr> {
    if !CREATABLE.contains(&cloud) {
        return Err(PaletteErr::not_found(format!(
            "cannot create clusters of type {cloud}"
        )));
    }
    let metadata = require_obj(body, "metadata", "body")?;
    // No pattern: SPEC's `v1ObjectMeta.name` has none, and Terraform and the wizard (except for
    // virtual clusters, a client-side check) send any non-empty name
    // (Palette's cluster models). Uniqueness is checked below.
    let name = require_str(metadata, "name", "metadata")?;
    let spec = require_obj(body, "spec", "body")?;
    // The virtual model's cloudConfig is optional; every other model requires one.
    let no_config = Value::Object(Default::default());
    let cloud_config = match cloud {
        "virtual" => field(spec, "cloudConfig").unwrap_or(&no_config),
        _ => require_obj(spec, "cloudConfig", "spec")?,
    };
    let mut region = String::new();
    let mut account = String::new();
    let mut workers = 0;
    let mut group = None;
    match cloud {
        "eks" => {
            region = require_str(cloud_config, "region", "spec.cloudConfig")?.into();
            account = require_str(spec, "cloudAccountUid", "spec")?.into();
            if field(spec, "machinepoolconfig").is_some() {
                workers = check_pools(spec, cloud)?;
            }
        }
        "aws" => {
            region = require_str(cloud_config, "region", "spec.cloudConfig")?.into();
            account = require_str(spec, "cloudAccountUid", "spec")?.into();
            workers = check_pools(spec, cloud)?;
        }
        "aks" | "azure" => {
            require_str(cloud_config, "subscriptionId", "spec.cloudConfig")?;
            region = require_str(cloud_config, "location", "spec.cloudConfig")?.into();
            require_str(cloud_config, "sshKey", "spec.cloudConfig")?;
            account = require_str(spec, "cloudAccountUid", "spec")?.into();
            workers = check_pools(spec, cloud)?;
        }
        "vsphere" => {
            let placement = require_obj(cloud_config, "placement", "spec.cloudConfig")?;
            // `network` is optional (Terraform never sends one); when given it needs a name.
            if field(placement, "network").is_some() {
                let network = require_obj(placement, "network", "spec.cloudConfig.placement")?;
                require_str(network, "networkName", "spec.cloudConfig.placement.network")?;
            }
            one_of(
                field(cloud_config, "controlPlaneEndpoint").and_then(|e| field(e, "type")),
                "spec.cloudConfig.controlPlaneEndpoint.type",
                &["VIP", "External", "DDNS"],
            )?;
            region = field(placement, "datacenter")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into();
            account = field(spec, "cloudAccountUid")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into();
            workers = check_pools(spec, cloud)?;
        }
        _ => {
            group = Some(host_of(d, spec)?);
            check_virtual_pools(spec)?;
        }
    }
    if !account.is_empty() {
        let kind = account_cloud(cloud);
        let a = d
            .cloud_accounts
            .iter()
            .find(|a| a.meta.uid == account)
            .ok_or_else(|| {
                PaletteErr::bad_request(format!("cloud account {account} does not exist"))
            })?;
        if a.cloud_type != kind {
            return Err(PaletteErr::bad_request(format!(
                "cloud account {account} is a {} account; {cloud} clusters need a {kind} account",
                a.cloud_type
            )));
        }
        if !ctx.lists(&a.meta.scope, true) && !ctx.may_see(&a.meta.scope) {
            return Err(PaletteErr::forbidden(format!(
                "no access to cloud account {account}"
            )));
        }
    }
    let refs = check_profiles(d, spec)?;
    if d.clusters
        .iter()
        .any(|c| c.meta.name == name && c.meta.scope == ctx.scope)
    {
        return Err(PaletteErr::new(
            StatusCode::CONFLICT,
            "DuplicateClusterName",
            format!("a cluster named {name} already exists in this scope"),
        ));
    }
    Ok(Checked {
        name: name.to_string(),
        cloud_type: if cloud == "virtual" {
            "nested".into()
        } else {
            cloud.into()
        },
        account,
        region,
        refs,
        workers,
        group,
    })
}

fn parse(body: &web::Bytes) -> Result<Value, PaletteErr> {
    serde_json::from_slice(body)
        .map_err(|e| PaletteErr::bad_request(format!("invalid JSON body: {e}")))
}

pub async fn validate_cluster(
    ctx: Ctx,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PaletteErr> {
    let body = parse(&body)?;
    let d =
        ctx.state.data.read().map_err(|_| {
            PaletteErr::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "lock")
        })?;
    check(&d, &ctx, &path, &body)?;
    Ok(HttpResponse::Ok().json(json!({ "valid": true })))
}

/// Keeps the newest creation requests for `GET /__sim/creations`.
fn record(d: &mut SimData, path: &str, body: &Value, status: u16) {
    const KEEP: usize = 50;
    if d.creations.len() >= KEEP {
        d.creations.remove(0);
    }
    d.creations.push(
        json!({ "path": format!("/v1/spectroclusters/{path}"), "body": body, "status": status }),
    );
}

pub async fn create_cluster(
    ctx: Ctx,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, PaletteErr> {
    let body = parse(&body)?;
    let mut d =
        ctx.state.data.write().map_err(|_| {
            PaletteErr::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "lock")
        })?;
    let checked = check(&d, &ctx, &path, &body);
    record(
        &mut d,
        &path,
        &body,
        checked.as_ref().map(|_| 201).unwrap_or(400),
    );
    let c = checked?;
    let now = Utc::now();
    let uid = new_uid(&mut d.rng);
    let audit = new_uid(&mut d.rng);
    let k8s = c
        .refs
        .iter()
        .filter_map(|r| d.version(r))
        .flat_map(|(_, v)| v.packs.iter())
        .find(|p| p.layer == "k8s")
        .map(|p| p.tag.clone())
        .unwrap_or_default();
    let (group, host) = match c.group {
        Some((g, h)) => (Some(g), Some(h)),
        None => (None, None),
    };
    d.clusters.push(Cluster {
        meta: Meta {
            uid: uid.clone(),
            name: c.name,
            scope: ctx.scope.clone(),
            created: now,
            modified: now,
        },
        cloud_type: c.cloud_type,
        state: "Pending".into(),
        health: String::new(),
        kubernetes_version: k8s,
        cloud_account_uid: c.account,
        region: c.region,
        profile_refs: c.refs,
        host_cluster_uid: host,
        cluster_group_uid: group,
        worker_count: c.workers,
        tags: Vec::new(),
        provisioning_since: Some(now),
        deleting_since: None,
    });
    d.reindex();
    Ok(HttpResponse::Created()
        .insert_header(("AuditUid", audit))
        .json(json!({ "uid": uid })))
}
