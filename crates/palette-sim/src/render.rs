//! Renders the simulator's model in Palette v1 JSON shapes:
//! dashboard summaries, details, the bare-array `meta` list, profiles with packs, and so on.

use serde_json::{Map, Value, json};

use super::data::{
    CloudAccount, Cluster, ClusterGroup, IpPool, Meta, Overlord, Pack, Profile, ProfileVersion,
    Project, SimData, SshKey, time_text,
};

pub fn metadata(meta: &Meta, tenant_uid: &str, extra: &[(&str, String)]) -> Value {
    let mut annotations = Map::new();
    annotations.insert("scope".into(), json!(meta.scope.name()));
    annotations.insert("tenantUid".into(), json!(tenant_uid));
    if let Some(p) = meta.scope.project_uid() {
        annotations.insert("projectUid".into(), json!(p));
    }
    for (k, v) in extra {
        annotations.insert((*k).into(), json!(v));
    }
    json!({
        "uid": meta.uid,
        "name": meta.name,
        "annotations": annotations,
        "labels": {},
        "creationTimestamp": time_text(&meta.created),
        "lastModifiedTimestamp": time_text(&meta.modified),
        "deletionTimestamp": "0001-01-01T00:00:00.000Z",
    })
}

pub fn project_summary(d: &SimData, p: &Project) -> Value {
    let (mut healthy, mut unhealthy, mut running) = (0, 0, 0);
    for c in d
        .clusters
        .iter()
        .filter(|c| c.meta.scope.project_uid() == Some(&p.meta.uid))
    {
        if c.state == "Running" {
            running += 1;
        }
        match c.health.as_str() {
            "Healthy" => healthy += 1,
            "UnHealthy" => unhealthy += 1,
            _ => {}
        }
    }
    json!({
        "metadata": metadata(&p.meta, &d.tenant_uid, &[]),
        "specSummary": { "logoUrl": "", "teams": [], "users": [] },
        "status": {
            "clustersHealth": { "errored": 0, "healthy": healthy, "running": running, "unhealthy": unhealthy },
            "status": { "isDisabled": false },
            "usage": { "alloyCpuCores": 0, "pureCpuCores": running * 8, "clusters": [] }
        }
    })
}

pub fn project_detail(d: &SimData, p: &Project) -> Value {
    json!({
        "metadata": metadata(&p.meta, &d.tenant_uid, &[]),
        "spec": { "alerts": [], "logoUrl": "", "teams": [], "users": [], "description": p.description },
        "status": { "isDisabled": false }
    })
}

fn cluster_annotations(c: &Cluster, d: &SimData) -> Vec<(&'static str, String)> {
    let mut extra = vec![("ownerUid", d.users[0].uid.clone())];
    if c.cloud_type == "vsphere"
        && let Some(o) = d.overlords.first()
    {
        extra.push(("overlordUid", o.meta.uid.clone()));
    }
    extra
}

/// An item of `GET /v1/dashboard/spectroclusters/meta` (a bare array).
pub fn cluster_meta(d: &SimData, c: &Cluster) -> Value {
    json!({
        "metadata": metadata(&c.meta, &d.tenant_uid, &cluster_annotations(c, d)),
        "spec": {
            "archType": ["amd64"],
            "cloudAccountUid": c.cloud_account_uid,
            "cloudRegion": c.region,
            "cloudType": c.cloud_type,
            "clusterType": "PureManage",
            "location": {},
            "tags": c.tags,
        },
        "status": { "state": c.state }
    })
}

fn pack_ref(p: &Pack, full: bool, with_meta: bool) -> Value {
    let mut v = json!({
        "name": p.name,
        "layer": p.layer,
        "type": p.pack_type,
        "tag": p.tag,
        "version": p.tag,
        "packUid": p.pack_uid,
        "registryUid": p.registry_uid,
    });
    if full {
        v["values"] = json!(p.values);
        v["manifests"] = json!(
            p.manifests
                .iter()
                .map(|m| json!({"kind": "manifest", "name": m.name, "uid": m.uid}))
                .collect::<Vec<_>>()
        );
    }
    if with_meta {
        v["schema"] = pack_schema(p);
        v["presets"] = pack_presets(p);
    }
    v
}

fn pack_schema(p: &Pack) -> Value {
    json!([
        { "name": format!("{}.replicas", p.name), "type": "number", "format": "int",
          "hints": ["replica count"], "listOptions": [], "readonly": false, "regex": "", "required": true },
        { "name": format!("{}.logLevel", p.name), "type": "string", "format": "string",
          "hints": [], "listOptions": ["debug", "info", "warn"], "readonly": false, "regex": "", "required": false }
    ])
}

fn pack_presets(p: &Pack) -> Value {
    json!([
        { "name": "high-availability", "displayName": "High availability", "group": "replicas",
          "add": format!("{}:\n  replicas: 3\n", p.name), "remove": [] }
    ])
}

fn template_meta(p: &Profile, v: &ProfileVersion, full: bool) -> Value {
    json!({
        "uid": v.uid,
        "name": p.name,
        "type": p.profile_type,
        "cloudType": p.cloud_type,
        "scope": p.scope.name(),
        "profileVersion": v.version,
        "version": v.packs.len() as i64,
        "packs": v.packs.iter().map(|pk| pack_ref(pk, full, false)).collect::<Vec<_>>(),
    })
}

fn cluster_templates(d: &SimData, c: &Cluster, full: bool) -> Vec<Value> {
    c.profile_refs
        .iter()
        .filter_map(|r| d.version(r))
        .map(|(p, v)| template_meta(p, v, full))
        .collect()
}

fn health(c: &Cluster) -> Value {
    json!({
        "state": c.health,
        "agentVersion": "4.8.2",
        "lastHeartBeatTimestamp": time_text(&c.meta.modified),
        "conditions": [],
    })
}

fn virtual_status(d: &SimData, c: &Cluster) -> Value {
    let host = c
        .host_cluster_uid
        .as_deref()
        .and_then(|h| d.cluster(h))
        .map(|h| json!({"uid": h.meta.uid, "name": h.meta.name, "projectUid": h.meta.scope.project_uid(), "tenantUid": d.tenant_uid}))
        .unwrap_or(Value::Null);
    let group = c
        .cluster_group_uid
        .as_deref()
        .and_then(|g| d.cluster_groups.iter().find(|x| x.meta.uid == g))
        .map(|g| json!({"uid": g.meta.uid, "name": g.meta.name, "projectUid": g.meta.scope.project_uid(), "tenantUid": d.tenant_uid}))
        .unwrap_or(Value::Null);
    json!({ "clusterGroup": group, "hostCluster": host, "state": c.state })
}

fn machine_pools(c: &Cluster) -> Value {
    if c.cloud_type == "nested" {
        return json!([]);
    }
    json!([
        { "cloudType": c.cloud_type, "healthy": 1, "isControlPlane": true, "labels": ["control-plane"], "maintenanceMode": 0, "size": 1 },
        { "cloudType": c.cloud_type, "healthy": c.worker_count, "isControlPlane": false, "labels": ["worker"], "maintenanceMode": 0, "size": c.worker_count }
    ])
}

fn project_meta(d: &SimData, c: &Cluster) -> Value {
    match c.meta.scope.project_uid().and_then(|p| d.project(p)) {
        Some(p) => json!({"name": p.meta.name, "uid": p.meta.uid}),
        None => Value::Null,
    }
}

fn account_meta(d: &SimData, c: &Cluster) -> Value {
    d.cloud_accounts
        .iter()
        .find(|a| a.meta.uid == c.cloud_account_uid)
        .map(|a| json!({"name": a.meta.name, "uid": a.meta.uid}))
        .unwrap_or_else(|| json!({"name": "", "uid": ""}))
}

/// An item of `POST /v1/dashboard/spectroclusters/search`.
pub fn cluster_summary(d: &SimData, c: &Cluster) -> Value {
    let mut v = json!({
        "metadata": metadata(&c.meta, &d.tenant_uid, &cluster_annotations(c, d)),
        "specSummary": {
            "archTypes": ["amd64"],
            "cloudAccountMeta": account_meta(d, c),
            "cloudConfig": { "cloudType": c.cloud_type, "uid": format!("cc-{}", c.meta.uid), "machinePools": machine_pools(c), "hybridMachinePools": [] },
            "clusterConfig": {},
            "clusterProfileTemplates": cluster_templates(d, c, false),
            "projectMeta": project_meta(d, c),
        },
        "status": {
            "state": c.state,
            "health": health(c),
            "fips": { "mode": "none" },
            "location": { "regionCode": c.region },
            "metrics": metrics(c),
        }
    });
    if c.cloud_type == "nested" {
        v["status"]["virtual"] = virtual_status(d, c);
        if let Some(g) = &c.cluster_group_uid {
            v["specSummary"]["clusterConfig"] =
                json!({"hostClusterConfig": {"clusterGroup": {"kind": "ClusterGroup", "uid": g}}});
        }
    }
    v
}

fn metrics(c: &Cluster) -> Value {
    let cores = (c.worker_count as i64 + 1) * 4000;
    json!({
        "cpu": { "limit": cores, "request": cores / 3, "total": cores, "unit": "MilliCore", "usage": cores / 4 },
        "memory": { "limit": cores * 4096, "request": cores * 1024, "total": cores * 4096, "unit": "KiB", "usage": cores * 1500 }
    })
}

/// `GET /v1/dashboard/spectroclusters/{uid}` (and `/overview`).
pub fn cluster_uid_summary(d: &SimData, c: &Cluster) -> Value {
    let mut v = json!({
        "metadata": metadata(&c.meta, &d.tenant_uid, &cluster_annotations(c, d)),
        "spec": {
            "archTypes": ["amd64"],
            "cloudConfig": { "cloudType": c.cloud_type, "uid": format!("cc-{}", c.meta.uid), "machinePools": machine_pools(c), "hybridMachinePools": [] },
            "cloudaccount": account_meta(d, c),
            "clusterProfileTemplates": cluster_templates(d, c, false),
        },
        "status": {
            "state": c.state,
            "health": health(c),
            "kubeMeta": {
                "hasKubeConfig": c.state == "Running",
                "hasKubeConfigClient": c.state == "Running",
                "hasManifest": true,
                "kubernetesVersion": c.kubernetes_version,
            },
            "conditions": [],
            "apiEndpoints": [{ "host": format!("{}.k8s.sim.example", c.meta.uid), "port": 6443 }],
            "addOnServices": [],
            "metrics": metrics(c),
            "fips": { "mode": "none" },
            "location": { "regionCode": c.region },
        }
    });
    if c.cloud_type == "nested" {
        v["status"]["virtual"] = virtual_status(d, c);
        v["spec"]["clusterConfig"] = json!({"hostClusterConfig": {"clusterGroup": {"kind": "ClusterGroup", "uid": c.cluster_group_uid}}});
    }
    v
}

/// `GET /v1/spectroclusters/{uid}`: the full object with packs.
pub fn cluster_full(d: &SimData, c: &Cluster) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "SpectroCluster",
        "metadata": metadata(&c.meta, &d.tenant_uid, &cluster_annotations(c, d)),
        "spec": {
            "cloudType": c.cloud_type,
            "cloudConfigRef": { "kind": c.cloud_type, "name": c.meta.name, "uid": format!("cc-{}", c.meta.uid) },
            "clusterType": "PureManage",
            "clusterConfig": {},
            "clusterProfileTemplates": cluster_templates(d, c, true),
        },
        "status": {
            "state": c.state,
            "conditions": [],
            "apiEndpoints": [{ "host": format!("{}.k8s.sim.example", c.meta.uid), "port": 6443 }],
            "fips": { "mode": "none" },
        }
    })
}

fn pack_entity(p: &Pack, with_meta: bool) -> Value {
    let mut spec = json!({
        "name": p.name,
        "displayName": p.display_name,
        "layer": p.layer,
        "type": p.pack_type,
        "version": p.tag,
        "digest": format!("sha256:{}", p.pack_uid),
        "registryUid": p.registry_uid,
        "values": p.values,
        "manifests": p.manifests.iter().map(|m| json!({"kind": "manifest", "name": m.name, "uid": m.uid})).collect::<Vec<_>>(),
    });
    if with_meta {
        spec["schema"] = pack_schema(p);
        spec["presets"] = pack_presets(p);
    }
    json!({ "metadata": { "name": p.name, "uid": p.pack_uid }, "spec": spec, "status": {} })
}

/// `GET /v1/spectroclusters/{uid}/profiles`.
pub fn cluster_profiles(d: &SimData, c: &Cluster, with_meta: bool) -> Value {
    let profiles: Vec<Value> = c
        .profile_refs
        .iter()
        .filter_map(|r| d.version(r))
        .map(|(p, v)| {
            json!({
                "metadata": metadata(&Meta { uid: v.uid.clone(), name: p.name.clone(), scope: p.scope.clone(), created: v.created, modified: v.modified }, &d.tenant_uid, &[]),
                "spec": {
                    "cloudType": p.cloud_type,
                    "type": p.profile_type,
                    "version": v.version,
                    "relatedObject": { "kind": "spectrocluster", "name": c.meta.name, "uid": c.meta.uid },
                    "packs": v.packs.iter().map(|pk| pack_entity(pk, with_meta)).collect::<Vec<_>>(),
                }
            })
        })
        .collect();
    json!({ "profiles": profiles })
}

fn version_meta(p: &Profile, v: &ProfileVersion) -> Meta {
    Meta {
        uid: v.uid.clone(),
        name: p.name.clone(),
        scope: p.scope.clone(),
        created: v.created,
        modified: v.modified,
    }
}

fn versions_list(p: &Profile) -> Vec<Value> {
    p.versions
        .iter()
        .map(|v| json!({"uid": v.uid, "version": v.version}))
        .collect()
}

/// An item of `POST /v1/dashboard/clusterprofiles` (one per profile, under its newest uid).
pub fn profile_summary(d: &SimData, p: &Profile, in_use: &[&Cluster]) -> Value {
    let v = p.latest();
    json!({
        "metadata": metadata(&version_meta(p, v), &d.tenant_uid, &[]),
        "specSummary": {
            "version": v.version,
            "versions": versions_list(p),
            "published": {
                "cloudType": p.cloud_type,
                "type": p.profile_type,
                "packs": v.packs.iter().map(|pk| json!({
                    "name": pk.name, "displayName": pk.display_name, "layer": pk.layer, "tag": pk.tag,
                    "type": pk.pack_type, "version": pk.tag, "packUid": pk.pack_uid,
                    "addonType": if pk.layer == "addon" { "addon" } else { "" }, "logoUrl": "", "annotations": {}
                })).collect::<Vec<_>>(),
            },
        },
        "status": {
            "isPublished": true,
            "inUseClusterUids": in_use.iter().map(|c| c.meta.uid.clone()).collect::<Vec<_>>(),
            "inUseClusters": in_use.iter().map(|c| json!({"name": c.meta.name, "uid": c.meta.uid})).collect::<Vec<_>>(),
            "inUseClusterTemplates": [],
            "fips": { "mode": "none" },
            "pack": { "deleted": false, "deprecated": false, "disabled": false },
        }
    })
}

/// `GET /v1/clusterprofiles/{uid}` for any version uid.
pub fn profile_detail(
    d: &SimData,
    p: &Profile,
    v: &ProfileVersion,
    in_use: &[&Cluster],
    with_meta: bool,
) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ClusterProfile",
        "metadata": metadata(&version_meta(p, v), &d.tenant_uid, &[]),
        "spec": {
            "version": v.version,
            "versions": versions_list(p),
            "published": {
                "uid": v.uid,
                "name": p.name,
                "type": p.profile_type,
                "cloudType": p.cloud_type,
                "profileVersion": v.version,
                "version": v.packs.len() as i64,
                "packs": v.packs.iter().map(|pk| pack_ref(pk, true, with_meta)).collect::<Vec<_>>(),
            },
            "draft": null,
        },
        "status": {
            "isPublished": true,
            "hasUserMacros": false,
            "inUseClusterUids": in_use.iter().map(|c| c.meta.uid.clone()).collect::<Vec<_>>(),
            "inUseClusters": in_use.iter().map(|c| json!({
                "kind": "spectrocluster", "name": c.meta.name, "projectUid": c.meta.scope.project_uid(),
                "tenantUid": d.tenant_uid, "uid": c.meta.uid
            })).collect::<Vec<_>>(),
            "inUseClusterTemplates": [],
        }
    })
}

/// `GET /v1/clusterprofiles/{uid}/packs`.
pub fn profile_packs(v: &ProfileVersion, with_meta: bool) -> Value {
    json!({ "items": v.packs.iter().map(|pk| pack_entity(pk, with_meta)).collect::<Vec<_>>() })
}

pub fn profile_variables(v: &ProfileVersion) -> Value {
    json!({
        "variables": v.variables.iter().map(|x| json!({
            "name": x.name, "displayName": x.display_name, "description": x.description,
            "defaultValue": x.default_value, "format": x.format, "inputType": "text",
            "regex": "", "required": x.required, "hidden": false, "immutable": false,
            "isSensitive": x.is_sensitive,
        })).collect::<Vec<_>>()
    })
}

/// A cloud account; secret fields carry plausible masked values, as Palette's GETs do.
pub fn cloud_account(d: &SimData, a: &CloudAccount) -> Value {
    let mut extra = vec![];
    if let Some(o) = &a.overlord_uid {
        extra.push(("overlordUid", o.clone()));
    }
    let spec = match a.cloud_type.as_str() {
        "aws" => json!({
            "credentialType": "secret",
            "accessKey": format!("AKIA{}", &a.meta.uid[..12].to_uppercase()),
            "secretKey": "************************************",
            "secretToken": "",
            "partition": "aws",
            "policyARNs": [],
            "sts": { "arn": "", "externalId": "" },
        }),
        "azure" => json!({
            "clientId": format!("{}-client", &a.meta.uid[..8]),
            "clientSecret": "************************",
            "tenantId": format!("{}-tenant", &a.meta.uid[..8]),
            "tenantName": "sim",
            "azureEnvironment": "AzurePublicCloud",
            "settings": { "disablePropertiesRequest": false },
        }),
        _ => json!({
            "vcenterServer": format!("vcenter-{}.sim.example", &a.meta.uid[..6]),
            "username": "administrator@vsphere.local",
            "password": "************",
            "insecure": false,
        }),
    };
    json!({
        "apiVersion": "v1",
        "kind": a.cloud_type,
        "metadata": metadata(&a.meta, &d.tenant_uid, &extra),
        "spec": spec,
        "status": { "state": "Running", "tokenExpiry": "0001-01-01T00:00:00.000Z", "tokenGenerationTime": "0001-01-01T00:00:00.000Z" }
    })
}

fn ip_pool(d: &SimData, p: &IpPool, overlord: &Overlord) -> Value {
    json!({
        "metadata": metadata(&p.meta, &d.tenant_uid, &[]),
        "spec": {
            "pool": { "start": p.start, "end": p.end, "subnet": p.subnet, "prefix": p.prefix, "gateway": p.gateway,
                      "nameserver": { "addresses": ["10.0.0.53"], "search": ["sim.example"] } },
            "priavetGatewayUid": overlord.meta.uid,
            "restrictToSingleCluster": false,
        },
        "status": { "allottedIps": [], "associatedClusters": [], "availableIps": [], "inUse": false }
    })
}

pub fn overlord(d: &SimData, o: &Overlord) -> Value {
    json!({
        "kind": o.kind,
        "metadata": metadata(&o.meta, &d.tenant_uid, &[]),
        "spec": {
            "cloudAccountUid": o.cloud_account_uid,
            "ipAddress": o.ip_address,
            "isSelfHosted": false,
            "isSystem": false,
            "spectroClusterUid": "",
            "tenantUid": d.tenant_uid,
            "ipPools": o.ip_pools.iter().map(|p| ip_pool(d, p, o)).collect::<Vec<_>>(),
        },
        "status": {
            "state": "Running", "isActive": true, "isReady": true,
            "health": { "state": "Healthy", "agentVersion": "4.8.2", "lastHeartBeatTimestamp": time_text(&o.meta.modified), "conditions": [] },
            "kubectlCommands": [], "notifications": {}
        }
    })
}

pub fn ip_pools(d: &SimData, o: &Overlord) -> Value {
    json!({ "items": o.ip_pools.iter().map(|p| ip_pool(d, p, o)).collect::<Vec<_>>() })
}

pub fn ssh_key(d: &SimData, k: &SshKey) -> Value {
    json!({ "metadata": metadata(&k.meta, &d.tenant_uid, &[]), "spec": { "publicKey": k.public_key } })
}

fn cluster_refs(d: &SimData, g: &ClusterGroup) -> Vec<Value> {
    g.host_cluster_uids
        .iter()
        .filter_map(|u| d.cluster(u))
        .map(|c| json!({"clusterName": c.meta.name, "clusterUid": c.meta.uid}))
        .collect()
}

pub fn cluster_group_summary(d: &SimData, g: &ClusterGroup) -> Value {
    json!({
        "metadata": metadata(&g.meta, &d.tenant_uid, &[]),
        "spec": {
            "clusterRefs": cluster_refs(d, g),
            "clustersConfig": { "endpointType": g.endpoint_type },
            "scope": g.meta.scope.name(),
        },
        "status": { "isActive": true }
    })
}

pub fn cluster_group_detail(d: &SimData, g: &ClusterGroup) -> Value {
    json!({
        "metadata": metadata(&g.meta, &d.tenant_uid, &[]),
        "spec": {
            "type": "hostCluster",
            "clusterRefs": cluster_refs(d, g),
            "clustersConfig": {
                "endpointType": g.endpoint_type,
                "hostClustersConfig": [],
                "kubernetesDistroType": "k3s",
                "limitConfig": { "cpuMilliCore": 6000, "memoryMiB": 8192, "storageGiB": 10, "overSubscription": 120 },
            },
            "clusterProfileTemplates": [],
        },
        "status": { "isActive": true }
    })
}

pub fn vsphere_datacenters(a: &CloudAccount) -> Value {
    let short = &a.meta.uid[..4];
    json!({
        "items": [
            { "datacenter": format!("dc-{short}-1"), "computeclusters": ["cluster-a", "cluster-b"], "folders": [format!("/dc-{short}-1/vm/spectro"), format!("/dc-{short}-1/vm/templates")] },
            { "datacenter": format!("dc-{short}-2"), "computeclusters": ["cluster-c"], "folders": [format!("/dc-{short}-2/vm/spectro")] }
        ]
    })
}

pub fn vsphere_compute_resources(datacenter: &str, computecluster: &str) -> Value {
    json!({
        "datacenter": datacenter,
        "computecluster": {
            "name": computecluster,
            "datastores": [format!("{computecluster}-ds-ssd"), format!("{computecluster}-ds-hdd")],
            "networks": ["VM Network", format!("{computecluster}-pg-10")],
            "resourcePools": ["Resources", format!("{computecluster}-pool")],
        }
    })
}

pub fn users_me(u: &super::data::SimUser) -> Value {
    let projects: Map<String, Value> = u
        .project_uids
        .iter()
        .map(|p| (p.clone(), json!(u.project_permissions)))
        .collect();
    json!({
        "metadata": { "uid": u.uid, "name": u.email },
        "spec": { "emailId": u.email, "firstName": u.first_name, "lastName": u.last_name,
                  "roles": if u.admin { vec!["Tenant Admin"] } else { vec!["Project Viewer"] } },
        "status": {
            "projectPermissions": projects,
            "tenantPermissions": { "tenant": u.tenant_permissions },
        }
    })
}

pub fn kubeconfig(c: &Cluster, frp: bool, flavour: &str) -> String {
    let server = if frp {
        format!("https://{}.proxy.sim.example:443", c.meta.uid)
    } else {
        format!("https://{}.k8s.sim.example:6443", c.meta.uid)
    };
    let user = if flavour == "admin" {
        format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            hex::encode(c.meta.uid.as_bytes()),
            hex::encode(c.meta.name.as_bytes())
        )
    } else {
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: kubectl\n      args: [oidc-login, get-token, --oidc-issuer-url=https://console.sim.example/oidc]\n".to_string()
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\ncontexts:\n- name: {name}-{flavour}\n  context:\n    cluster: {name}\n    user: {name}-{flavour}\ncurrent-context: {name}-{flavour}\nusers:\n- name: {name}-{flavour}\n  user:\n{user}",
        name = c.meta.name,
        ca = hex::encode(format!("ca-{}", c.meta.uid)),
    )
}
