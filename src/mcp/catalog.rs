//! THE tool table: every tool once, with its title, description, permission, hints, input and
//! output schemas and body. [`list`] shows a caller the tools it may call; [`invoke`] checks
//! the permission (a refusal is audited) and runs one by name with JSON input. The MCP server
//! and any other adapter (the Backstage actions registry) use these two.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::args::{self, ClusterRef, Env, Listed, Pages, Scoped};
use super::tools::{self, Call};
use crate::auth::Caller;
use crate::auth::audit;
use crate::config::Config;
use crate::domain::Permission::{self, *};
use crate::error::{AppError, AppResult};
use crate::service::diagnose::Diagnosis;
use crate::service::lists::{ClusterBrief, Paged};

/// What a tool does to the world, as MCP annotations tell clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads the mirror: read-only, idempotent, closed world.
    Mirror,
    /// Reads Palette live (kubeconfigs, manifests): read-only, open world.
    Live,
    /// Changes Palette or the service: destructive, not idempotent, open world; only with
    /// `mcp.write_tools = true`.
    Write,
}

impl Effect {
    pub fn annotations(self, title: &str) -> ToolAnnotations {
        let write = self == Effect::Write;
        ToolAnnotations::from_raw(
            Some(title.to_string()),
            Some(!write),
            Some(write),
            Some(!write),
            Some(self != Effect::Mirror),
        )
    }
}

/// One tool of the table.
pub struct Spec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub permission: Permission,
    pub effect: Effect,
    input: fn() -> Value,
    output: Out,
}

impl Spec {
    /// The tool as MCP lists it.
    pub fn tool(&self) -> Tool {
        Tool::new(self.name, self.description, object((self.input)()))
            .with_title(self.title)
            .with_raw_output_schema(object(self.output.schema()))
            .with_annotations(self.effect.annotations(self.title))
    }
}

fn object(v: Value) -> Arc<JsonObject> {
    match v {
        Value::Object(o) => Arc::new(o),
        _ => Arc::new(JsonObject::new()),
    }
}

/// A schema strict clients accept: subschemas inlined, no `$schema`/`title`, and an optional
/// value's `["string","null"]` (or `anyOf` with null) reduced to its type (absent = null).
fn strict(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
    }
    tidy(&mut v);
    v
}

fn tidy(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Array(types)) = o.get("type") {
                let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                if kept.len() == 1 {
                    o.insert("type".into(), kept[0].clone());
                }
            }
            for key in ["anyOf", "oneOf"] {
                let Some(Value::Array(alts)) = o.get(key) else {
                    continue;
                };
                let real: Vec<Value> = alts
                    .iter()
                    .filter(|a| a["type"] != "null")
                    .cloned()
                    .collect();
                if real.len() == 1 && alts.len() == 2 {
                    o.remove(key);
                    if let Value::Object(inner) = &real[0] {
                        for (k, x) in inner {
                            o.entry(k.clone()).or_insert_with(|| x.clone());
                        }
                    }
                }
            }
            if let Some(Value::Array(e)) = o.get_mut("enum") {
                e.retain(|x| !x.is_null());
            }
            o.values_mut().for_each(tidy);
        }
        Value::Array(a) => a.iter_mut().for_each(tidy),
        _ => {}
    }
}

fn input<T: JsonSchema>() -> Value {
    let g = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut v = strict(serde_json::to_value(g.into_root_schema_for::<T>()).unwrap_or_default());
    if let Some(o) = v.as_object_mut() {
        o.remove("description");
    }
    v
}

fn output<T: JsonSchema>() -> Value {
    let g = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .for_serialize()
        .into_generator();
    input_like(serde_json::to_value(g.into_root_schema_for::<T>()).unwrap_or_default())
}

fn input_like(v: Value) -> Value {
    let mut v = strict(v);
    if let Some(o) = v.as_object_mut() {
        o.remove("description");
    }
    v
}

/// An object schema with these properties (`type` per property; `any` = any JSON), the first
/// `required` of them required.
fn shape(props: &[(&str, &str)], required: usize) -> Value {
    let mut p = serde_json::Map::new();
    for (name, kind) in props {
        let s = match *kind {
            "any" => json!({}),
            k => json!({ "type": k }),
        };
        p.insert((*name).to_string(), s);
    }
    let req: Vec<&str> = props.iter().take(required).map(|(n, _)| *n).collect();
    json!({ "type": "object", "properties": p, "required": req })
}

/// A page of objects: `{items, total, nextCursor?, truncated?, summary?}` and `extra`.
fn page_of(extra: &[(&str, &str)]) -> Value {
    let mut props = vec![
        ("items", "array"),
        ("total", "integer"),
        ("nextCursor", "string"),
        ("truncated", "boolean"),
        ("summary", "object"),
    ];
    props.extend_from_slice(extra);
    shape(&props, 2)
}

/// `{type: "string"}` etc. for each `(name, type)`; an object schema requiring `required`.
fn obj(props: &[(&str, Value)], required: &[&str]) -> Value {
    let p: serde_json::Map<String, Value> = props
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect();
    json!({ "type": "object", "properties": p, "required": required })
}

fn t(kind: &str) -> Value {
    json!({ "type": kind })
}

/// The original plugin's four actions answer the fields it answered (names and shapes as its
/// zod schemas had them); ours come beside them.
mod original {
    use super::{Value, json, obj, page_of, t};

    pub fn health() -> Value {
        let condition = obj(
            &[
                ("type", t("string")),
                ("status", t("string")),
                ("message", t("string")),
            ],
            &[],
        );
        let cluster = obj(
            &[
                ("name", t("string")),
                ("uid", t("string")),
                ("state", t("string")),
                ("entityRef", t("string")),
                ("cloudType", t("string")),
                ("projectUid", t("string")),
                ("kubernetesVersion", t("string")),
            ],
            &["name", "uid", "state", "entityRef"],
        );
        let health = obj(
            &[
                ("overallStatus", t("string")),
                ("conditions", json!({ "type": "array", "items": condition })),
                ("lastHeartBeat", t("string")),
                ("agentVersion", t("string")),
                ("machinePools", t("array")),
            ],
            &["overallStatus", "conditions"],
        );
        obj(
            &[
                ("cluster", cluster),
                ("health", health),
                ("mirror", t("object")),
            ],
            &["cluster", "health"],
        )
    }

    pub fn kubeconfig() -> Value {
        let cluster = obj(
            &[
                ("name", t("string")),
                ("uid", t("string")),
                ("entityRef", t("string")),
            ],
            &["uid"],
        );
        obj(
            &[
                ("cluster", cluster),
                ("kubeconfig", t("string")),
                ("accessType", t("string")),
            ],
            &["cluster", "kubeconfig", "accessType"],
        )
    }

    pub fn pack_details() -> Value {
        let profile = obj(
            &[
                ("name", t("string")),
                ("uid", t("string")),
                ("type", t("string")),
                ("cloudType", t("string")),
                ("status", t("string")),
                ("entityRef", t("string")),
                ("version", t("string")),
                ("scope", t("string")),
                ("projectUid", t("string")),
                ("projectName", t("string")),
            ],
            &["name", "uid", "entityRef"],
        );
        let pack = obj(
            &[
                ("name", t("string")),
                ("version", t("string")),
                ("layer", t("string")),
                ("manifests", t("array")),
            ],
            &["name", "version", "layer"],
        );
        obj(
            &[
                ("profile", profile),
                ("packs", json!({ "type": "array", "items": pack })),
                ("mirror", t("object")),
            ],
            &["profile", "packs"],
        )
    }

    pub fn clusters_for_profile() -> Value {
        let profile = obj(
            &[
                ("name", t("string")),
                ("uid", t("string")),
                ("entityRef", t("string")),
            ],
            &["name", "uid", "entityRef"],
        );
        let cluster = obj(
            &[
                ("name", t("string")),
                ("uid", t("string")),
                ("entityRef", t("string")),
                ("state", t("string")),
                ("projectId", t("string")),
            ],
            &["name", "uid", "entityRef"],
        );
        let mut v = page_of(&[("mirror", "object")]);
        v["properties"]["profile"] = profile;
        v["properties"]["clusters"] = json!({ "type": "array", "items": cluster });
        if let Some(r) = v["required"].as_array_mut() {
            r.extend([json!("profile"), json!("clusters")]);
        }
        v
    }
}

/// A tool's output schema.
#[derive(Debug, Clone, Copy)]
enum Out {
    Clusters,
    Diagnosis,
    /// A schema written out in full.
    Schema(fn() -> Value),
    /// A page of objects with these further properties.
    Page(&'static [(&'static str, &'static str)]),
    /// An object with these properties, the first `n` required.
    Object(&'static [(&'static str, &'static str)], usize),
}

impl Out {
    fn schema(self) -> Value {
        match self {
            Out::Clusters => output::<Paged<ClusterBrief>>(),
            Out::Diagnosis => output::<Diagnosis>(),
            Out::Schema(f) => f(),
            Out::Page(extra) => page_of(extra),
            Out::Object(props, n) => shape(props, n),
        }
    }
}

const PAGE: Out = Out::Page(&[]);
const MIRRORED_PAGE: Out = Out::Page(&[("mirror", "object")]);
const KUBECONFIG: Out = Out::Object(
    &[
        ("cluster", "object"),
        ("kubeconfig", "string"),
        ("accessType", "string"),
    ],
    3,
);

macro_rules! tools {
    ($( $name:ident ($args:ty) -> $out:expr, $perm:ident, $effect:ident, $title:literal, $desc:literal; )*) => {
        /// Every tool and the permission it needs. A tool missing here does not exist.
        pub const TOOLS: &[(&str, Permission)] = &[ $( (stringify!($name), $perm), )* ];

        /// Every tool's spec, in table order.
        pub fn specs() -> Vec<Spec> {
            vec![ $( Spec {
                name: stringify!($name),
                title: $title,
                description: $desc,
                permission: $perm,
                effect: Effect::$effect,
                input: input::<$args>,
                output: $out,
            }, )* ]
        }

        async fn dispatch(c: &Call<'_>, name: &str, input: Value) -> AppResult<Value> {
            match name {
                $( stringify!($name) => tools::$name(c, parse::<$args>(input)?).await, )*
                _ => Err(AppError::not_found(format!("No tool named {name}"))),
            }
        }
    };
}

tools! {
    list_spectrocloud_clusters(Listed<args::ClusterFilters>) -> Out::Clusters, ClusterViewInfo, Mirror, "List clusters",
        "List SpectroCloud clusters (name, uid, state, health, cloud type, project name and uid, Kubernetes version, tags), paged; filter by name substring, state, health, cloud type, Kubernetes version prefix (1.29 takes 1.29.x, not 1.290), project or tag; virtual clusters are included (cloud type nested), as every count of clusters includes them; summary=true gives counts per state, health, cloud type and project, a value Palette has not reported (or reports as Unknown) counted as unknown.";
    list_spectrocloud_virtual_clusters(Listed<args::ClusterFilters>) -> Out::Clusters, ClusterViewInfo, Mirror, "List virtual clusters",
        "List SpectroCloud virtual clusters (name, uid, state, health, project), paged and filtered like list_spectrocloud_clusters.";
    get_spectrocloud_health_for_cluster(Scoped<ClusterRef>) -> Out::Schema(original::health), ClusterViewInfo, Mirror, "Cluster health",
        "Health of a cluster (by name or uid): overall status, last heartbeat, agent version, conditions, machine pools with sizes and healthy counts, Kubernetes version.";
    diagnose_spectrocloud_cluster(Scoped<ClusterRef>) -> Out::Diagnosis, ClusterViewInfo, Mirror, "Diagnose a cluster",
        "Everything to look at when a cluster misbehaves (by name or uid): state, health, conditions, machine pools with sizes and health, Kubernetes and agent versions, last heartbeat, CPU/memory use, the profiles it runs, recent changes, and plain findings.";
    get_spectrocloud_kubeconfig_for_cluster(Scoped<args::WithFrp<ClusterRef>>) -> Out::Schema(original::kubeconfig), ClusterDownloadKubeconfig, Live, "Download a cluster kubeconfig",
        "Download a client (OIDC) kubeconfig for a cluster, by name or uid, live from Palette and audited; frp (default true) goes through Palette's reverse proxy.";
    get_spectrocloud_cluster_profiles(Scoped<args::WithValues<ClusterRef>>) -> Out::Object(&[("clusterUid", "string"), ("profiles", "array"), ("mirror", "object")], 2), ClusterViewPackValues, Mirror, "Profiles of a cluster",
        "The profiles attached to a cluster (by name or uid) with their packs: name, version, layer and manifest uids (for get_spectrocloud_pack_manifest_for_cluster); includeValues=true adds each pack's values.";
    get_spectrocloud_pack_manifest_for_cluster(Scoped<args::Manifest>) -> Out::Object(&[("clusterUid", "string"), ("manifestUid", "string"), ("manifest", "any")], 3), ClusterViewPackManifests, Live, "Pack manifest of a cluster",
        "A pack manifest (its YAML content) of a cluster, by cluster name or uid and manifest uid, live from Palette and audited.";
    list_spectrocloud_projects(Listed<args::NameFilter>) -> PAGE, ClusterViewInfo, Mirror, "List projects",
        "List the SpectroCloud projects the caller can see (name, uid), paged; filter by name substring.";
    list_spectrocloud_cluster_groups(Listed<args::NameFilter>) -> PAGE, ClusterViewInfo, Mirror, "List cluster groups",
        "List cluster groups (name, uid, scope, project name and uid), paged; with a project, that project's and the tenant's.";
    get_spectrocloud_cluster_group(Scoped<args::ClusterGroupRef>) -> Out::Object(&[("clusterGroup", "object"), ("mirror", "object")], 1), ClusterViewInfo, Mirror, "Cluster group details",
        "A cluster group, by name or uid: its host clusters and settings.";
    get_spectrocloud_virtual_cluster_details(Scoped<args::VirtualClusterRef>) -> Out::Object(&[("cluster", "object"), ("mirror", "object")], 1), ClusterViewInfo, Mirror, "Virtual cluster details",
        "A virtual cluster, by name or uid: name, uid, state, project, host cluster and cluster group.";
    get_spectrocloud_kubeconfig_for_virtual_cluster(Scoped<args::WithFrp<args::VirtualClusterRef>>) -> KUBECONFIG, ClusterDownloadKubeconfig, Live, "Download a virtual cluster kubeconfig",
        "Download a kubeconfig for a virtual cluster, by name or uid, live and audited; frp (default true) goes through Palette's reverse proxy.";
    list_spectrocloud_cloud_accounts(Listed<args::AccountFilters>) -> PAGE, ClusterViewInfo, Mirror, "List cloud accounts",
        "List cloud accounts of a cloud type (name, uid, scope, project), paged; filter by name substring.";
    search_spectrocloud_profiles_by_names(Listed<args::ProfileNamesArg>) -> PAGE, ProfileViewInfo, Mirror, "Find profiles by name",
        "Find cluster profiles by exact names (any case): name, uid, scope, project name and uid, type, cloud type, newest version; profiles of the same name are told apart by scope and project.";
    list_spectrocloud_profiles_for_project(Listed<args::ProfileFilters>) -> PAGE, ProfileViewInfo, Mirror, "Profiles usable in a project",
        "List the cluster profiles usable in a project (its own and the tenant's), by cloud type and profile type (default infra and cluster), paged.";
    get_spectrocloud_pack_details_for_profile(Scoped<args::WithValues<args::ProfileRef>>) -> Out::Schema(original::pack_details), ClusterViewPackValues, Mirror, "Packs of a profile version",
        "The packs (name, version, layer, manifest uids) of one profile version: the version uid given, or the profile by name with an optional version label (default the newest); includeValues=true adds pack values.";
    get_spectrocloud_profile_variables(Scoped<args::ProfileRef>) -> Out::Object(&[("profileUid", "string"), ("variables", "any"), ("mirror", "object")], 2), ProfileViewInfo, Mirror, "Profile variables",
        "The variables of a profile version, by name (optional version label) or version uid.";
    find_spectrocloud_clusters_for_profile(Listed<args::ProfileRef>) -> Out::Schema(original::clusters_for_profile), ProfileViewClusters, Mirror, "Clusters using a profile",
        "Every cluster using a cluster profile on any of its versions (reverse lookup), with the version each runs, state, health and project; by profile name or any version uid; paged.";
    get_spectrocloud_profile_usage(Listed<args::UsageFilters>) -> MIRRORED_PAGE, ProfileViewClusters, Mirror, "Profile usage report",
        "How many clusters run each cluster profile and each of its versions, most used first (unused profiles included), paged; filter by name substring, unusedOnly or project.";
    find_spectrocloud_clusters_by_pack(Listed<args::PackRef>) -> Out::Page(&[("pack", "object")]), ClusterViewInfo, Mirror, "Clusters running a pack",
        "Clusters running a pack, with the packs (each by its own name) and versions each runs, state, health and project; paged. The name takes its family in any case (kubernetes: kubernetes, kubernetes-eks, kubernetes-aks); version is a prefix up to a dot, dash or plus (1.3 takes 1.3, 1.3.x, 1.3-… and 1.3+…, not 1.30). `pack` says in words what matched (matchedNames, versionRule, message) and, when no pack matched, the names containing the word (containing) and close names (didYouMean).";
    search_spectrocloud_packs(Pages<args::PackFilters>) -> Out::Page(&[("search", "object")]), ClusterViewInfo, Mirror, "Search packs in use",
        "The packs in use on clusters, each with the versions in use and how many clusters run them; paged. name takes its family in any case (kubernetes: kubernetes, kubernetes-eks, kubernetes-aks); with a name, `search` says what matched (matchedNames, message) and, when nothing did, the names containing the word (containing) and close names (didYouMean). layer narrows by layer.";
    list_spectrocloud_fleet_changes(Pages<args::ChangeFilters>) -> Out::Object(&[("items", "array"), ("nextCursor", "string"), ("mirror", "object")], 1), ClusterViewInfo, Mirror, "Fleet changes",
        "What changed in the SpectroCloud fleet, newest first: clusters added, deleted, changing state, health, profile or Kubernetes version; profile versions published, profiles deleted; paged with cursor.";
    get_spectrocloud_sync_status(Env) -> Out::Object(&[("environments", "array")], 1), ClusterViewInfo, Mirror, "Mirror sync status",
        "How fresh the mirror of each SpectroCloud environment is (or of instanceName only): last successful sync, staleness, a run under way.";
    create_spectrocloud_cluster(Scoped<args::NewCluster>) -> Out::Object(&[("status", "integer"), ("cluster", "object")], 2), ClusterCreate, Write, "Create a cluster",
        "Create a cluster in Palette from the wizard's body (validated first; every problem reported at once); audited. Only when the service enables write tools.";
    trigger_spectrocloud_sync(Env) -> Out::Object(&[("runs", "array")], 1), ClusterCreate, Write, "Start a mirror sync",
        "Start a sync of the mirror from Palette (of instanceName, or every environment); a run under way is answered as is; audited. Only when the service enables write tools.";
}

fn parse<A: DeserializeOwned>(input: Value) -> AppResult<A> {
    let input = if input.is_null() { json!({}) } else { input };
    serde_json::from_value(input)
        .map_err(|e| AppError::bad_request(format!("invalid arguments: {e}")))
}

pub fn permission_of(tool: &str) -> Option<Permission> {
    TOOLS.iter().find(|(t, _)| *t == tool).map(|(_, p)| *p)
}

/// The tools this configuration offers (write tools only with `mcp.write_tools`).
pub fn offered(config: &Config) -> Vec<Spec> {
    specs()
        .into_iter()
        .filter(|s| s.effect != Effect::Write || config.mcp.write_tools)
        .collect()
}

/// The tools `caller` may call, as MCP lists them.
pub fn list(config: &Config, caller: &Caller) -> Vec<Tool> {
    offered(config)
        .iter()
        .filter(|s| caller.may(s.permission))
        .map(Spec::tool)
        .collect()
}

/// Runs tool `name` with JSON `input` for `caller`: unknown (or not offered) is 404, a missing
/// permission is 403 and on record; otherwise the tool's answer or its error.
pub async fn invoke(c: &Call<'_>, name: &str, input: Value) -> AppResult<Value> {
    let Some(spec) = offered(&c.state.config)
        .into_iter()
        .find(|s| s.name == name)
    else {
        return Err(AppError::not_found(format!("No tool named {name}")));
    };
    if !c.caller.may(spec.permission) {
        let p = spec.permission.id();
        tracing::info!(subject = %c.caller.subject, tool = name, permission = p, "MCP tool denied");
        let event = audit::Event {
            subject: &c.caller.subject,
            user: None,
            action: audit::Action::Access,
            env: "",
            object_uid: None,
            success: false,
            detail: Some(format!("MCP tool {name}: permission {p} missing")),
        };
        audit::record_denied(&c.state.db, event).await;
        return Err(spec.permission.denied());
    }
    let span = tracing::info_span!("mcp_tool", tool = name, subject = %c.caller.subject);
    tracing::Instrument::instrument(dispatch(c, name, input), span).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(v: &Value, path: &str, bad: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if o.get("type").is_some_and(Value::is_array) {
                    bad.push(format!("{path}: type array"));
                }
                if o.contains_key("$ref") || o.contains_key("$defs") {
                    bad.push(format!("{path}: reference"));
                }
                for (k, x) in o {
                    walk(x, &format!("{path}.{k}"), bad);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, path, bad)),
            _ => {}
        }
    }

    #[test]
    fn every_schema_is_strict_and_every_parameter_described() {
        let mut bad = Vec::new();
        for s in specs() {
            let (i, o) = ((s.input)(), s.output.schema());
            assert_eq!(i["type"], "object", "{}", s.name);
            assert_eq!(o["type"], "object", "{}", s.name);
            walk(&i, s.name, &mut bad);
            walk(&o, s.name, &mut bad);
            for (param, schema) in i["properties"].as_object().into_iter().flatten() {
                if schema["description"].as_str().is_none_or(str::is_empty) {
                    bad.push(format!("{}.{param}: no description", s.name));
                }
            }
            assert!(!s.title.is_empty());
        }
        assert!(bad.is_empty(), "{bad:#?}");
    }

    #[test]
    fn closed_values_are_enums() {
        let s = specs();
        let pp = s
            .iter()
            .find(|s| s.name == "list_spectrocloud_profiles_for_project")
            .unwrap();
        let i = (pp.input)();
        assert_eq!(
            i["properties"]["profileType"]["enum"],
            json!(["infra", "cluster", "add-on", "system"])
        );
        assert_eq!(i["properties"]["limit"]["type"], "integer");
    }

    #[test]
    fn hints_follow_the_effect() {
        let a = Effect::Mirror.annotations("t");
        assert_eq!(
            (a.read_only_hint, a.destructive_hint, a.open_world_hint),
            (Some(true), Some(false), Some(false))
        );
        let w = Effect::Write.annotations("t");
        assert_eq!(
            (w.read_only_hint, w.destructive_hint, w.idempotent_hint),
            (Some(false), Some(true), Some(false))
        );
    }
}
