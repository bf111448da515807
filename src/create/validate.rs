//! The rules Palette's cluster models apply (its API spec, its Terraform provider), checked on the final
//! Palette body so every problem is reported at once, by JSON path, before Palette is called.

use std::collections::HashSet;

use serde_json::Value;

use crate::error::Problem;

const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
const UPDATE_STRATEGIES: &[&str] = &[
    "RollingUpdateScaleOut",
    "RollingUpdateScaleIn",
    "OverrideScaling",
];
const ARCH_TYPES: &[&str] = &["amd64", "arm64"];
const CAPACITY_TYPES: &[&str] = &["on-demand", "spot", "host-resource-group"];
const OS_TYPES: &[&str] = &["Linux", "Windows"];
const ENDPOINT_TYPES: &[&str] = &["VIP", "External", "DDNS"];
const VIRTUAL_ENDPOINTS: &[&str] = &["Ingress", "LoadBalancer"];

#[derive(Default)]
struct Report(Vec<Problem>);

impl Report {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem::new(field, message));
    }
    fn text(&mut self, v: &Value, field: &str) {
        if v.as_str().is_none_or(|s| s.trim().is_empty()) {
            self.add(field, "is required");
        }
    }
    fn one_of(&mut self, v: &Value, field: &str, allowed: &[&str]) {
        if !v.is_null() && !v.as_str().is_some_and(|s| allowed.contains(&s)) {
            self.add(field, format!("must be one of {}", allowed.join(", ")));
        }
    }
    /// An optional integer within `lo..=hi`.
    fn int(&mut self, v: &Value, field: &str, lo: i64, hi: i64) -> Option<i64> {
        if v.is_null() {
            return None;
        }
        match v.as_i64() {
            Some(n) if (lo..=hi).contains(&n) => Some(n),
            _ => {
                self.add(field, format!("must be an integer from {lo} to {hi}"));
                None
            }
        }
    }
}

/// Every problem of a Palette body for endpoint `cloud`.
pub fn problems(cloud: &str, body: &Value) -> Vec<Problem> {
    let mut r = Report::default();
    r.text(&body["metadata"]["name"], "metadata.name");
    let spec = &body["spec"];
    if cloud == "virtual" {
        virtual_cluster(&mut r, spec);
        return r.0;
    }
    if matches!(cloud, "eks" | "aws" | "aks" | "azure") {
        r.text(&spec["cloudAccountUid"], "spec.cloudAccountUid");
    }
    cloud_config(&mut r, cloud, &spec["cloudConfig"]);
    pools(&mut r, cloud, &spec["machinepoolconfig"]);
    if cloud == "vsphere" {
        static_ip(&mut r, spec);
    }
    profiles(&mut r, &spec["profiles"]);
    r.0
}

fn cloud_config(r: &mut Report, cloud: &str, cc: &Value) {
    let at = |k: &str| format!("spec.cloudConfig.{k}");
    if !cc.is_object() {
        r.add("spec.cloudConfig", "is required");
    }
    match cloud {
        "eks" | "aws" => r.text(&cc["region"], &at("region")),
        "aks" | "azure" => {
            for k in ["subscriptionId", "resourceGroup", "location", "sshKey"] {
                r.text(&cc[k], &at(k));
            }
            let aad = &cc["aadProfile"];
            if aad.is_object() && (aad["managed"].is_null() || aad["adminGroupObjectIDs"].is_null())
            {
                r.add(at("aadProfile"), "needs managed and adminGroupObjectIDs");
            }
        }
        _ => {
            let placement = &cc["placement"];
            if !placement.is_object() {
                r.add(at("placement"), "is required");
            }
            for k in ["datacenter", "folder"] {
                r.text(&placement[k], &format!("spec.cloudConfig.placement.{k}"));
            }
            if cc["sshKeys"].as_array().is_none_or(|a| a.is_empty()) {
                r.add(at("sshKeys"), "must list at least one SSH public key");
            }
            r.one_of(
                &cc["controlPlaneEndpoint"]["type"],
                &at("controlPlaneEndpoint.type"),
                ENDPOINT_TYPES,
            );
        }
    }
}

fn pools(r: &mut Report, cloud: &str, pools: &Value) {
    let Some(pools) = pools.as_array().filter(|p| !p.is_empty()) else {
        r.add(
            "spec.machinepoolconfig",
            "must list at least one machine pool",
        );
        return;
    };
    let mut names = HashSet::new();
    let mut control_planes = Vec::new();
    let mut system_pool = false;
    for (i, p) in pools.iter().enumerate() {
        let at = format!("spec.machinepoolconfig[{i}]");
        let pc = &p["poolConfig"];
        if let Some(name) = pc["name"].as_str().filter(|n| !n.trim().is_empty()) {
            if !names.insert(name) {
                r.add(
                    format!("{at}.poolConfig.name"),
                    format!("pool name `{name}` is used twice"),
                );
            }
        } else {
            r.add(format!("{at}.poolConfig.name"), "is required");
        }
        let cp = pc["isControlPlane"].as_bool().unwrap_or(false);
        if cp {
            control_planes.push((i, pc["size"].as_i64()));
        }
        system_pool |= p["managedPoolConfig"]["isSystemNodePool"]
            .as_bool()
            .unwrap_or(false)
            || p["cloudConfig"]["isSystemNodePool"]
                .as_bool()
                .unwrap_or(false);
        pool_config(r, &at, pc, cp);
        pool_cloud(r, cloud, &at, p);
    }
    match cloud {
        "aws" | "azure" | "vsphere" if control_planes.len() != 1 => r.add(
            "spec.machinepoolconfig",
            "needs exactly one control-plane pool (poolConfig.isControlPlane: true)",
        ),
        "azure" => {
            if let Some((i, Some(size))) = control_planes.first()
                && size % 2 == 0
            {
                r.add(
                    format!("spec.machinepoolconfig[{i}].poolConfig.size"),
                    "an Azure control plane needs an odd size",
                );
            }
        }
        "aks" if !system_pool => r.add(
            "spec.machinepoolconfig",
            "an AKS cluster needs a system pool (managedPoolConfig.isSystemNodePool: true)",
        ),
        _ => {}
    }
}

fn pool_config(r: &mut Report, at: &str, pc: &Value, control_plane: bool) {
    let f = |k: &str| format!("{at}.poolConfig.{k}");
    let size = if pc["size"].is_null() {
        r.add(f("size"), "is required");
        None
    } else {
        r.int(&pc["size"], &f("size"), 0, i64::from(i32::MAX))
    };
    if !pc["labels"].is_array() {
        r.add(f("labels"), "is required (a list such as [\"worker\"])");
    }
    let min = r.int(&pc["minSize"], &f("minSize"), 0, i64::from(i32::MAX));
    let max = r.int(&pc["maxSize"], &f("maxSize"), 0, i64::from(i32::MAX));
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        r.add(
            f("maxSize"),
            format!("maxSize {max} is below minSize {min}"),
        );
    } else if let (Some(size), Some(min)) = (size, min)
        && size < min
    {
        r.add(f("size"), format!("size {size} is below minSize {min}"));
    } else if let (Some(size), Some(max)) = (size, max)
        && size > max
    {
        r.add(f("size"), format!("size {size} is above maxSize {max}"));
    }
    for (j, t) in pc["taints"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        r.text(&t["key"], &f(&format!("taints[{j}].key")));
        if t["effect"].is_null() {
            r.add(f(&format!("taints[{j}].effect")), "is required");
        }
        r.one_of(
            &t["effect"],
            &f(&format!("taints[{j}].effect")),
            TAINT_EFFECTS,
        );
    }
    let us = &pc["updateStrategy"];
    r.one_of(&us["type"], &f("updateStrategy.type"), UPDATE_STRATEGIES);
    if us["type"] == "OverrideScaling"
        && (us["maxSurge"].is_null() || us["maxUnavailable"].is_null())
    {
        r.add(
            f("updateStrategy"),
            "OverrideScaling needs maxSurge and maxUnavailable",
        );
    }
    r.one_of(
        &pc["machinePoolProperties"]["archType"],
        &f("machinePoolProperties.archType"),
        ARCH_TYPES,
    );
    r.one_of(
        &pc["skipK8sUpgrade"],
        &f("skipK8sUpgrade"),
        &["enabled", "disabled"],
    );
    let hi = if control_plane {
        0
    } else {
        i64::from(i32::MAX)
    };
    r.int(&pc["nodeRepaveInterval"], &f("nodeRepaveInterval"), 0, hi);
}

fn pool_cloud(r: &mut Report, cloud: &str, at: &str, p: &Value) {
    let cc = &p["cloudConfig"];
    let f = |k: &str| format!("{at}.cloudConfig.{k}");
    if !cc.is_object() {
        r.add(format!("{at}.cloudConfig"), "is required");
        return;
    }
    match cloud {
        "vsphere" => {
            for k in ["numCPUs", "memoryMiB", "diskGiB"] {
                let v = &cc["instanceType"][k];
                if v.is_null() {
                    r.add(f(&format!("instanceType.{k}")), "is required");
                } else {
                    r.int(v, &f(&format!("instanceType.{k}")), 1, i64::from(i32::MAX));
                }
            }
            let placements = cc["placements"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            if placements.is_empty() {
                r.add(f("placements"), "must list a placement");
            }
            for (j, pl) in placements.iter().enumerate() {
                for k in ["cluster", "datastore", "network.networkName"] {
                    let v = k.split('.').fold(pl, |v, part| &v[part]);
                    r.text(v, &f(&format!("placements[{j}].{k}")));
                }
            }
        }
        _ => {
            r.text(&cc["instanceType"], &f("instanceType"));
            r.one_of(&cc["capacityType"], &f("capacityType"), CAPACITY_TYPES);
            r.int(&cc["rootDeviceSize"], &f("rootDeviceSize"), 1, 2000);
            r.one_of(&cc["osDisk"]["osType"], &f("osDisk.osType"), OS_TYPES);
            r.one_of(
                &p["managedPoolConfig"]["osType"],
                &format!("{at}.managedPoolConfig.osType"),
                OS_TYPES,
            );
        }
    }
}

/// vSphere `staticIp: true`: "all machinepools should have staticIP with provided IPPool"
/// (SPEC's description of `v1VsphereClusterConfigEntity.staticIp`; TF sets a placement's
/// `staticIp` from its IP pool). The pool's gateway is checked against the mirror.
fn static_ip(r: &mut Report, spec: &Value) {
    if spec["cloudConfig"]["staticIp"] != true {
        return;
    }
    let pools = spec["machinepoolconfig"].as_array();
    for (i, p) in pools.map(Vec::as_slice).unwrap_or(&[]).iter().enumerate() {
        let placements = p["cloudConfig"]["placements"].as_array();
        for (j, pl) in placements
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            let at = format!("spec.machinepoolconfig[{i}].cloudConfig.placements[{j}].network");
            let network = &pl["network"];
            if network["staticIp"] != true {
                r.add(
                    format!("{at}.staticIp"),
                    "must be true when spec.cloudConfig.staticIp is true",
                );
            }
            if network["parentPoolUid"]
                .as_str()
                .is_none_or(|u| u.trim().is_empty())
            {
                r.add(
                    format!("{at}.parentPoolUid"),
                    "must name an IP pool when spec.cloudConfig.staticIp is true",
                );
            }
        }
    }
}

fn profiles(r: &mut Report, profiles: &Value) {
    let Some(list) = profiles.as_array().filter(|p| !p.is_empty()) else {
        r.add(
            "spec.profiles",
            "must list at least one cluster profile version",
        );
        return;
    };
    for (i, p) in list.iter().enumerate() {
        r.text(&p["uid"], &format!("spec.profiles[{i}].uid"));
        for key in ["packValues", "variables"] {
            for (j, v) in p[key]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .enumerate()
            {
                r.text(&v["name"], &format!("spec.profiles[{i}].{key}[{j}].name"));
            }
        }
    }
}

fn virtual_cluster(r: &mut Report, spec: &Value) {
    let host = &spec["clusterConfig"]["hostClusterConfig"];
    let group = host["clusterGroup"]["uid"]
        .as_str()
        .is_some_and(|u| !u.is_empty());
    let cluster = host["hostCluster"]["uid"]
        .as_str()
        .is_some_and(|u| !u.is_empty());
    if !group && !cluster {
        r.add(
            "spec.clusterConfig.hostClusterConfig",
            "needs clusterGroup.uid or hostCluster.uid",
        );
    }
    r.one_of(
        &host["clusterEndpoint"]["type"],
        "spec.clusterConfig.hostClusterConfig.clusterEndpoint.type",
        VIRTUAL_ENDPOINTS,
    );
    for (i, p) in spec["machinepoolconfig"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let it = &p["cloudConfig"]["instanceType"];
        let at = format!("spec.machinepoolconfig[{i}].cloudConfig.instanceType");
        if !it.is_object() {
            r.add(at, "is required");
            continue;
        }
        for (lo, hi) in [
            ("minCPU", "maxCPU"),
            ("minMemInMiB", "maxMemInMiB"),
            ("minStorageGiB", "maxStorageGiB"),
        ] {
            let a = r.int(&it[lo], &format!("{at}.{lo}"), 0, i64::from(i32::MAX));
            let b = r.int(&it[hi], &format!("{at}.{hi}"), 0, i64::from(i32::MAX));
            if let (Some(a), Some(b)) = (a, b)
                && a > b
            {
                r.add(format!("{at}.{hi}"), format!("{hi} {b} is below {lo} {a}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(cloud: &str, body: &Value) -> Vec<String> {
        problems(cloud, body).into_iter().map(|p| p.field).collect()
    }

    fn aws() -> Value {
        json!({"metadata": {"name": "c"}, "spec": {"cloudAccountUid": "a", "cloudConfig": {"region": "r"},
            "profiles": [{"uid": "p"}],
            "machinepoolconfig": [
                {"cloudConfig": {"instanceType": "m5"}, "poolConfig": {"name": "cp", "size": 1, "labels": ["control-plane"], "isControlPlane": true}},
                {"cloudConfig": {"instanceType": "m5"}, "poolConfig": {"name": "w", "size": 1, "labels": ["worker"]}}]}})
    }

    #[test]
    fn a_valid_body_has_no_problems() {
        assert!(fields("aws", &aws()).is_empty());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut b = aws();
        b["spec"]["cloudConfig"] = json!({});
        let w = &mut b["spec"]["machinepoolconfig"][1];
        w["poolConfig"]["minSize"] = json!(5);
        w["poolConfig"]["maxSize"] = json!(2);
        w["poolConfig"]["taints"] = json!([{"key": "", "effect": "Bad"}]);
        w["poolConfig"]["updateStrategy"] = json!({"type": "OverrideScaling"});
        w["cloudConfig"]["rootDeviceSize"] = json!(5000);
        let f = fields("aws", &b);
        for want in [
            "spec.cloudConfig.region",
            "spec.machinepoolconfig[1].poolConfig.maxSize",
            "spec.machinepoolconfig[1].poolConfig.taints[0].key",
            "spec.machinepoolconfig[1].poolConfig.taints[0].effect",
            "spec.machinepoolconfig[1].poolConfig.updateStrategy",
            "spec.machinepoolconfig[1].cloudConfig.rootDeviceSize",
        ] {
            assert!(f.iter().any(|x| x == want), "{want} not in {f:?}");
        }
    }

    #[test]
    fn control_plane_rules_per_cloud() {
        let mut b = aws();
        b["spec"]["machinepoolconfig"][0]["poolConfig"]["isControlPlane"] = json!(false);
        assert!(fields("aws", &b).contains(&"spec.machinepoolconfig".to_string()));
        let mut az = aws();
        az["spec"]["cloudConfig"] =
            json!({"subscriptionId": "s", "resourceGroup": "g", "location": "l", "sshKey": "k"});
        az["spec"]["machinepoolconfig"][0]["poolConfig"]["size"] = json!(2);
        assert_eq!(
            fields("azure", &az),
            ["spec.machinepoolconfig[0].poolConfig.size"]
        );
        assert_eq!(
            fields("aks", &az),
            ["spec.machinepoolconfig"],
            "no system pool"
        );
    }

    #[test]
    fn static_ip_needs_a_pool_at_every_placement() {
        let pool = |network: Value| {
            json!({"cloudConfig": {"instanceType": {"numCPUs": 2, "memoryMiB": 4096, "diskGiB": 40},
                "placements": [{"cluster": "c", "datastore": "d", "network": network}]},
                "poolConfig": {"name": "cp", "size": 1, "labels": ["control-plane"], "isControlPlane": true}})
        };
        let body = |network: Value| {
            json!({"metadata": {"name": "v"}, "spec": {
                "cloudConfig": {"placement": {"datacenter": "dc", "folder": "f"}, "sshKeys": ["k"], "staticIp": true},
                "machinepoolconfig": [pool(network)], "profiles": [{"uid": "p"}]}})
        };
        let at = "spec.machinepoolconfig[0].cloudConfig.placements[0].network";
        assert_eq!(
            fields(
                "vsphere",
                &body(json!({"networkName": "n", "staticIp": false}))
            ),
            [format!("{at}.staticIp"), format!("{at}.parentPoolUid")]
        );
        let ok = body(json!({"networkName": "n", "staticIp": true, "parentPoolUid": "p1"}));
        assert!(fields("vsphere", &ok).is_empty());
        let mut dhcp = body(json!({"networkName": "n"}));
        dhcp["spec"]["cloudConfig"]["staticIp"] = json!(false);
        assert!(fields("vsphere", &dhcp).is_empty());
    }
}
