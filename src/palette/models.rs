//! Reading the few fields the mirror needs out of Palette's JSON (the JSON itself is stored as
//! Palette sent it), and stripping secrets from cloud accounts.

use serde_json::Value;

pub use crate::domain::is_valid_uid;

pub fn uid(v: &Value) -> Option<&str> {
    v["metadata"]["uid"].as_str().filter(|u| is_valid_uid(u))
}

pub fn name(v: &Value) -> &str {
    v["metadata"]["name"].as_str().unwrap_or("")
}

pub fn last_modified(v: &Value) -> &str {
    v["metadata"]["lastModifiedTimestamp"]
        .as_str()
        .unwrap_or("")
}

/// The owning project, from `metadata.annotations.projectUid`; `None` for tenant scope.
pub fn project_uid(v: &Value) -> Option<&str> {
    let a = &v["metadata"]["annotations"];
    if a["scope"].as_str() == Some("tenant") {
        return None;
    }
    a["projectUid"].as_str().filter(|p| !p.is_empty())
}

pub fn scope(v: &Value) -> &str {
    match v["metadata"]["annotations"]["scope"].as_str() {
        Some(s) if !s.is_empty() => s,
        _ if project_uid(v).is_some() => "project",
        _ => "tenant",
    }
}

/// Cloud type of a cluster in any of Palette's shapes (meta, summary, details).
pub fn cloud_type(v: &Value) -> &str {
    [
        &v["spec"]["cloudType"],
        &v["spec"]["cloudConfig"]["cloudType"],
        &v["specSummary"]["cloudConfig"]["cloudType"],
    ]
    .into_iter()
    .find_map(|x| x.as_str())
    .unwrap_or("")
}

pub fn state(v: &Value) -> &str {
    v["status"]["state"].as_str().unwrap_or("")
}

pub fn health(v: &Value) -> Option<&str> {
    v["status"]["health"]["state"]
        .as_str()
        .filter(|s| !s.is_empty())
}

pub fn kubernetes_version(v: &Value) -> Option<&str> {
    v["status"]["kubeMeta"]["kubernetesVersion"]
        .as_str()
        .filter(|s| !s.is_empty())
}

/// A profile template a cluster references (`spec.clusterProfileTemplates[]`): its uid is the
/// profile VERSION uid.
pub struct TemplateRef<'a> {
    pub version_uid: &'a str,
    pub name: &'a str,
    pub version: String,
    pub profile_type: &'a str,
    pub packs: Vec<PackRef<'a>>,
}

pub struct PackRef<'a> {
    pub name: &'a str,
    pub tag: &'a str,
    pub version: &'a str,
    pub layer: &'a str,
    pub pack_type: &'a str,
    pub pack_uid: &'a str,
}

fn pack_refs(packs: &Value) -> Vec<PackRef<'_>> {
    packs
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let name = p["name"].as_str()?;
                    Some(PackRef {
                        name,
                        tag: p["tag"].as_str().unwrap_or(""),
                        version: p["version"].as_str().unwrap_or(""),
                        layer: p["layer"].as_str().unwrap_or(""),
                        pack_type: p["type"].as_str().unwrap_or(""),
                        pack_uid: p["packUid"].as_str().unwrap_or(""),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Profile templates of a cluster detail (dashboard or full shape).
pub fn cluster_templates(detail: &Value) -> Vec<TemplateRef<'_>> {
    let list = [
        &detail["spec"]["clusterProfileTemplates"],
        &detail["specSummary"]["clusterProfileTemplates"],
    ]
    .into_iter()
    .find_map(|x| x.as_array());
    list.map(|a| {
        a.iter()
            .filter_map(|t| {
                let version_uid = t["uid"].as_str().filter(|u| is_valid_uid(u))?;
                let version = match &t["profileVersion"] {
                    Value::String(s) if !s.is_empty() => s.clone(),
                    _ => match &t["version"] {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => String::new(),
                    },
                };
                Some(TemplateRef {
                    version_uid,
                    name: t["name"].as_str().unwrap_or(""),
                    version,
                    profile_type: t["type"].as_str().unwrap_or(""),
                    packs: pack_refs(&t["packs"]),
                })
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Version uids a listed profile has (`specSummary.versions`), its own uid when absent.
pub fn profile_version_uids(item: &Value) -> Vec<String> {
    let mut out: Vec<String> = item["specSummary"]["versions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v["uid"].as_str().filter(|u| is_valid_uid(u)))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(u) = uid(item)
        && !out.iter().any(|x| x == u)
    {
        out.push(u.to_string());
    }
    out
}

/// Version labels (`1.0.0`) of a listed profile by version uid: `specSummary.versions`, and
/// `specSummary.version` for the uid it is listed under.
pub fn profile_version_labels(item: &Value) -> std::collections::HashMap<&str, String> {
    let mut out: std::collections::HashMap<&str, String> = item["specSummary"]["versions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| Some((v["uid"].as_str()?, v["version"].as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    if let (Some(u), Some(label)) = (uid(item), item["specSummary"]["version"].as_str()) {
        out.entry(u).or_insert_with(|| label.to_string());
    }
    out
}

/// `specSummary.published` (or draft) of a listed profile.
fn profile_template(item: &Value) -> &Value {
    let p = &item["specSummary"]["published"];
    if p.is_object() {
        p
    } else {
        &item["specSummary"]["draft"]
    }
}

pub fn profile_type(item: &Value) -> &str {
    profile_template(item)["type"]
        .as_str()
        .or_else(|| item["spec"]["published"]["type"].as_str())
        .unwrap_or("")
}

pub fn profile_cloud_type(item: &Value) -> &str {
    profile_template(item)["cloudType"]
        .as_str()
        .or_else(|| item["spec"]["published"]["cloudType"].as_str())
        .unwrap_or("")
}

pub fn profile_version(item: &Value) -> &str {
    item["specSummary"]["version"]
        .as_str()
        .or_else(|| item["spec"]["version"].as_str())
        .unwrap_or("")
}

/// Packs of a profile version detail (`spec.published.packs`).
pub fn profile_packs(detail: &Value) -> Vec<PackRef<'_>> {
    let published = &detail["spec"]["published"];
    let t = if published.is_object() {
        published
    } else {
        &detail["spec"]["draft"]
    };
    pack_refs(&t["packs"])
}

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    // Substrings of every credential field Palette's account kinds carry: AWS secretKey,
    // accessKey, secretToken; Azure clientSecret; vSphere, OpenStack password; MAAS and
    // CloudStack apiKey; GCP jsonCredentials; kubeconfigs; certificates' private keys.
    [
        "secret",
        "password",
        "passwd",
        "privatekey",
        "private_key",
        "accesskey",
        "apikey",
        "api_key",
        "token",
        "credentials",
        "kubeconfig",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// Removes every secret-looking field under `spec` (recursively) before a cloud account is
/// stored or passed on: keys naming a secret, password, private key, access or API key, token,
/// credentials or kubeconfig.
pub fn strip_secrets(account: &mut Value) {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.retain(|k, _| !is_secret_key(k));
                for (_, child) in map.iter_mut() {
                    strip(child);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    if let Some(spec) = account.get_mut("spec") {
        strip(spec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uids() {
        assert!(is_valid_uid("6732677ce46389af646d517a"));
        assert!(!is_valid_uid("../etc"));
        assert!(!is_valid_uid("a b"));
        assert!(!is_valid_uid(""));
        assert!(!is_valid_uid(&"a".repeat(65)));
    }

    #[test]
    fn strips_secrets_only_under_spec() {
        let mut a = json!({
            "metadata": {"name": "x"},
            "spec": {"accessKey": "AKIA", "secretKey": "s", "clientSecret": "c", "password": "p",
                     "apiKey": "maas", "jsonCredentials": "{\"private_key\": \"x\"}", "kubeconfig": "k",
                     "sts": {"arn": "a", "externalId": "e"}, "credentialType": "secret", "partition": "aws"},
            "status": {"tokenExpiry": "t"}
        });
        strip_secrets(&mut a);
        let spec = a["spec"].as_object().unwrap();
        assert!(!spec.contains_key("secretKey") && !spec.contains_key("clientSecret"));
        assert!(!spec.contains_key("password") && !spec.contains_key("accessKey"));
        assert!(
            !spec.contains_key("apiKey")
                && !spec.contains_key("jsonCredentials")
                && !spec.contains_key("kubeconfig")
        );
        assert_eq!(a["spec"]["partition"], "aws");
        assert_eq!(a["spec"]["credentialType"], "secret");
        assert_eq!(a["status"]["tokenExpiry"], "t");
    }

    #[test]
    fn templates_from_details() {
        let d = json!({"spec": {"clusterProfileTemplates": [
            {"uid": "aaa", "name": "p", "type": "infra", "profileVersion": "1.2.0",
             "packs": [{"name": "k", "tag": "1.30", "layer": "k8s"}]},
            {"uid": "bad uid", "name": "q"}
        ]}});
        let t = cluster_templates(&d);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].version, "1.2.0");
        assert_eq!(t[0].packs[0].tag, "1.30");
    }
}
