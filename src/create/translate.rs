//! The Backstage wizard's shape → Palette's: `cloudConfig.controlPlane`/`workerPools` become
//! `machinepoolconfig` entries, `machinePoolConfig` is spelled as Palette spells it. A
//! Palette-shaped body passes through unchanged.

use serde_json::{Map, Value, json};

use crate::error::Problem;

/// Translates `body` for `cloud` (an endpoint: eks, aws, aks, azure, vsphere, virtual).
pub fn translate(cloud: &str, mut body: Value) -> (Value, Vec<Problem>) {
    let mut problems = Vec::new();
    let Some(spec) = body.get_mut("spec").and_then(Value::as_object_mut) else {
        return (body, problems);
    };
    if let Some(camel) = spec.remove("machinePoolConfig") {
        if spec.contains_key("machinepoolconfig") {
            problems.push(Problem::new(
                "spec.machinePoolConfig",
                "give either machinePoolConfig or machinepoolconfig, not both",
            ));
        } else {
            spec.insert("machinepoolconfig".into(), camel);
        }
    }
    if matches!(cloud, "eks" | "aws" | "aks" | "azure") {
        wizard_pools(cloud, spec, &mut problems);
    }
    (body, problems)
}

fn wizard_pools(cloud: &str, spec: &mut Map<String, Value>, problems: &mut Vec<Problem>) {
    let Some(cc) = spec.get_mut("cloudConfig").and_then(Value::as_object_mut) else {
        return;
    };
    let control = cc.remove("controlPlane");
    let workers = cc.remove("workerPools");
    if control.is_none() && workers.is_none() {
        return;
    }
    if spec.contains_key("machinepoolconfig") {
        problems.push(Problem::new(
            "spec.cloudConfig.workerPools",
            "give either the wizard's controlPlane/workerPools or machinepoolconfig, not both",
        ));
        return;
    }
    let mut pools = Vec::new();
    // EKS and AKS control planes are managed by the cloud: no pool for them.
    if let Some(cp) = control.filter(|_| matches!(cloud, "aws" | "azure")) {
        let size = cp.get("count").cloned().unwrap_or(json!(1));
        pools.push(pool(cloud, "control-plane-pool", &cp, size, true));
    }
    let workers = workers
        .and_then(|w| w.as_array().cloned())
        .unwrap_or_default();
    for (i, w) in workers.iter().enumerate() {
        let name = w["name"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("worker-pool-{}", i + 1));
        let size = w.get("size").cloned().unwrap_or(Value::Null);
        let mut p = pool(cloud, &name, w, size, false);
        for k in ["minSize", "maxSize"] {
            if let Some(v) = w.get(k) {
                p["poolConfig"][k] = v.clone();
            }
        }
        if cloud == "aks" && i == 0 {
            p["managedPoolConfig"] = json!({ "isSystemNodePool": true });
        }
        pools.push(p);
    }
    spec.insert("machinepoolconfig".into(), Value::Array(pools));
}

/// One Palette pool from a wizard pool (`instanceType`, `diskSize`).
fn pool(cloud: &str, name: &str, w: &Value, size: Value, control_plane: bool) -> Value {
    let mut cc = json!({});
    if let Some(t) = w["instanceType"].as_str().filter(|t| !t.trim().is_empty()) {
        cc["instanceType"] = json!(t);
    }
    if let Some(d) = w.get("diskSize").filter(|d| !d.is_null()) {
        if matches!(cloud, "aks" | "azure") {
            cc["osDisk"] = json!({ "diskSizeGB": d });
        } else {
            cc["rootDeviceSize"] = d.clone();
        }
    }
    let label = if control_plane {
        "control-plane"
    } else {
        "worker"
    };
    json!({
        "cloudConfig": cc,
        "poolConfig": {
            "name": name, "size": size, "labels": [label], "isControlPlane": control_plane,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wizard(cloud: &str) -> Value {
        json!({"metadata": {"name": "c1"}, "spec": {"cloudType": cloud, "cloudAccountUid": "a",
            "cloudConfig": {"controlPlane": {"instanceType": "m5.large", "count": 3, "diskSize": 80},
                "workerPools": [{"name": "worker-pool-1", "size": 2, "instanceType": "", "minSize": 1, "maxSize": 10}]},
            "profiles": [{"uid": "p", "packValues": []}]}})
    }

    #[test]
    fn aws_gets_a_control_plane_and_a_worker_pool() {
        let (b, p) = translate("aws", wizard("aws"));
        assert!(p.is_empty());
        assert_eq!(b["spec"]["cloudConfig"], json!({}));
        let pools = b["spec"]["machinepoolconfig"].as_array().unwrap();
        assert_eq!(pools.len(), 2);
        assert_eq!(
            pools[0],
            json!({"cloudConfig": {"instanceType": "m5.large", "rootDeviceSize": 80},
                "poolConfig": {"name": "control-plane-pool", "size": 3, "labels": ["control-plane"], "isControlPlane": true}})
        );
        assert_eq!(
            pools[1],
            json!({"cloudConfig": {}, "poolConfig": {"name": "worker-pool-1", "size": 2, "labels": ["worker"],
                "isControlPlane": false, "minSize": 1, "maxSize": 10}})
        );
    }

    #[test]
    fn eks_and_aks_have_no_control_plane_pool_and_aks_a_system_pool() {
        let (b, _) = translate("eks", wizard("eks"));
        assert_eq!(b["spec"]["machinepoolconfig"].as_array().unwrap().len(), 1);
        let (b, _) = translate("aks", wizard("aks"));
        let pools = b["spec"]["machinepoolconfig"].as_array().unwrap();
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0]["managedPoolConfig"]["isSystemNodePool"], true);
    }

    #[test]
    fn palette_shape_passes_unchanged_and_camel_case_is_renamed() {
        let body = json!({"metadata": {"name": "c"}, "spec": {"cloudConfig": {"region": "r"},
            "machinepoolconfig": [{"poolConfig": {"name": "x"}}]}});
        assert_eq!(translate("aws", body.clone()).0, body);
        let camel = json!({"spec": {"machinePoolConfig": [1]}});
        assert_eq!(
            translate("vsphere", camel).0,
            json!({"spec": {"machinepoolconfig": [1]}})
        );
        let both = json!({"spec": {"machinePoolConfig": [1], "machinepoolconfig": [2]}});
        assert_eq!(
            translate("vsphere", both).1[0].field,
            "spec.machinePoolConfig"
        );
    }
}
