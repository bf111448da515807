//! What an operator looks at first when a cluster misbehaves, from what the mirror holds:
//! state and health, conditions, machine pools with sizes and health, Kubernetes and agent
//! versions, the last heartbeat, resource use, the profiles it runs and when it last changed.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{Ctx, Origin};
use crate::domain::{Uid, vocab};
use crate::error::AppResult;
use crate::palette::models;

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Diagnosis {
    pub uid: String,
    pub name: String,
    pub state: String,
    /// Health as Palette reports it (`Healthy`, `UnHealthy`, …); `unknown` when none.
    pub health: String,
    pub cloud_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_heartbeat: Option<String>,
    /// Health and status conditions (type, status, reason, message), as reported.
    pub conditions: Vec<Value>,
    pub machine_pools: Vec<MachinePool>,
    /// CPU and memory use against totals, when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Value>,
    /// The profiles the cluster runs: name, uid, version.
    pub profiles: Vec<ProfileOnCluster>,
    /// Created and last modified, newest first.
    pub recent_changes: Vec<Change>,
    /// Plain findings worth a look (unhealthy pools, a stale heartbeat, …); empty when none.
    pub findings: Vec<String>,
    /// `mirror` or `live`, and when the mirror was last synced.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synced_at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachinePool {
    /// The pool's name or labels.
    pub name: String,
    pub control_plane: bool,
    pub size: i64,
    pub healthy: i64,
    pub maintenance: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileOnCluster {
    pub name: String,
    pub uid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Change {
    pub what: String,
    pub at: String,
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// The pure part: a diagnosis of Palette's cluster object (`GET /v1/dashboard/spectroclusters/{uid}`).
pub fn diagnosis(uid: &str, d: &Value) -> Diagnosis {
    let status = &d["status"];
    let health = &status["health"];
    let state = vocab::word(Some(models::state(d))).into_owned();
    let mut conditions: Vec<Value> = health["conditions"].as_array().cloned().unwrap_or_default();
    conditions.extend(status["conditions"].as_array().cloned().unwrap_or_default());
    let pools_json = d["spec"]["cloudConfig"]["machinePools"]
        .as_array()
        .or(d["specSummary"]["cloudConfig"]["machinePools"].as_array())
        .cloned()
        .unwrap_or_default();
    let machine_pools: Vec<MachinePool> = pools_json.iter().map(pool).collect();
    let profiles = models::cluster_templates(d)
        .into_iter()
        .map(|t| ProfileOnCluster {
            name: t.name.to_string(),
            uid: t.version_uid.to_string(),
            version: Some(t.version).filter(|v| !v.is_empty()),
        })
        .collect();
    let mut recent_changes: Vec<Change> = [
        ("modified", &d["metadata"]["lastModifiedTimestamp"]),
        ("created", &d["metadata"]["creationTimestamp"]),
    ]
    .into_iter()
    .filter_map(|(what, at)| {
        text(at).map(|at| Change {
            what: what.into(),
            at,
        })
    })
    .collect();
    recent_changes.sort_by(|a, b| b.at.cmp(&a.at));
    let mut out = Diagnosis {
        uid: uid.to_string(),
        name: models::name(d).to_string(),
        health: vocab::word(models::health(d)).into_owned(),
        state,
        cloud_type: models::cloud_type(d).to_string(),
        project_uid: models::project_uid(d).map(str::to_string),
        kubernetes_version: models::kubernetes_version(d).map(str::to_string),
        agent_version: text(&health["agentVersion"]),
        last_heartbeat: text(&health["lastHeartBeatTimestamp"]),
        conditions,
        machine_pools,
        metrics: Some(status["metrics"].clone()).filter(|m| m.is_object()),
        profiles,
        recent_changes,
        findings: Vec::new(),
        source: "mirror".into(),
        synced_at: None,
    };
    out.findings = findings(&out);
    out
}

fn pool(p: &Value) -> MachinePool {
    let labels: Vec<&str> = p["labels"]
        .as_array()
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    MachinePool {
        name: text(&p["name"]).unwrap_or_else(|| labels.join(",")),
        control_plane: p["isControlPlane"] == true,
        size: p["size"].as_i64().unwrap_or(0),
        healthy: p["healthy"].as_i64().unwrap_or(0),
        maintenance: p["maintenanceMode"].as_i64().unwrap_or(0),
    }
}

fn findings(d: &Diagnosis) -> Vec<String> {
    let mut out = Vec::new();
    if d.state != "Running" {
        out.push(format!("state is {}, not Running", d.state));
    }
    // An unreported health is no finding of its own: the state says why (Pending, ...).
    if !d.health.eq_ignore_ascii_case("healthy") && d.health != vocab::UNKNOWN {
        out.push(format!("health is {}", d.health));
    }
    for p in &d.machine_pools {
        if p.healthy < p.size {
            out.push(format!(
                "machine pool {}: {} of {} nodes healthy",
                p.name, p.healthy, p.size
            ));
        }
        if p.maintenance > 0 {
            out.push(format!(
                "machine pool {}: {} nodes in maintenance",
                p.name, p.maintenance
            ));
        }
    }
    for c in &d.conditions {
        if c["status"] == "False" || c["status"] == false {
            let kind = c["type"].as_str().unwrap_or("condition");
            let why = c["message"].as_str().or(c["reason"].as_str()).unwrap_or("");
            out.push(format!("{kind} is false {why}").trim().to_string());
        }
    }
    out
}

/// The diagnosis of a cluster the caller may see (with `project`: in that project).
pub async fn cluster(ctx: &Ctx, uid: &Uid, project: Option<&Uid>) -> AppResult<Diagnosis> {
    let got = super::clusters::detail(ctx, uid, project).await?;
    let mut d = diagnosis(uid.as_str(), &got.value()?);
    match got.origin {
        Origin::Mirror(f) => {
            d.synced_at = f
                .synced_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        }
        Origin::Live => d.source = "live".into(),
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_diagnosis_reads_pools_conditions_and_versions() {
        let d = json!({
            "metadata": {"uid": "u1", "name": "web", "creationTimestamp": "2026-01-01T00:00:00Z",
                         "lastModifiedTimestamp": "2026-02-01T00:00:00Z", "annotations": {"projectUid": "p1"}},
            "spec": {"cloudConfig": {"cloudType": "eks", "machinePools": [
                {"isControlPlane": true, "size": 1, "healthy": 1, "labels": ["control-plane"], "maintenanceMode": 0},
                {"isControlPlane": false, "size": 3, "healthy": 2, "labels": ["worker"], "maintenanceMode": 0}]}},
            "status": {"state": "Running", "health": {"state": "UnHealthy", "agentVersion": "4.8.2",
                       "lastHeartBeatTimestamp": "2026-02-01T00:00:00Z",
                       "conditions": [{"type": "NodesReady", "status": "False", "message": "1 node not ready"}]},
                       "kubeMeta": {"kubernetesVersion": "1.29.4"}}
        });
        let x = diagnosis("u1", &d);
        assert_eq!(x.health, "UnHealthy");
        assert_eq!(x.agent_version.as_deref(), Some("4.8.2"));
        assert_eq!(x.kubernetes_version.as_deref(), Some("1.29.4"));
        assert_eq!(x.machine_pools.len(), 2);
        assert_eq!(x.machine_pools[1].name, "worker");
        assert_eq!(x.recent_changes[0].what, "modified");
        assert!(
            x.findings.iter().any(|f| f.contains("2 of 3")),
            "{:?}",
            x.findings
        );
        assert!(x.findings.iter().any(|f| f.contains("NodesReady")));
        assert!(x.findings.iter().any(|f| f.contains("health is UnHealthy")));
    }

    #[test]
    fn a_missing_health_is_unknown_not_the_state() {
        let d = json!({"metadata": {"uid": "u2", "name": "new"},
                       "status": {"state": "Pending"}});
        let x = diagnosis("u2", &d);
        assert_eq!(x.state, "Pending");
        assert_eq!(x.health, vocab::UNKNOWN);
        assert_eq!(
            x.findings,
            vec!["state is Pending, not Running".to_string()]
        );
    }
}
