//! Write-through: the new cluster enters the mirror at once, from Palette's details when they
//! can be read, else from the request; the next sync replaces it with Palette's list item.

use serde_json::{Value, json};

use super::Request;
use crate::palette::{Retries, models};
use crate::store::clusters;

pub async fn write_through(req: &Request<'_>, endpoint: &str, uid: &str, name: &str, body: &Value) {
    let project = req.project;
    let cloud_type = if endpoint == "virtual" {
        "nested"
    } else {
        endpoint
    };
    let detail = req
        .env
        .client
        .get(format!("/v1/dashboard/spectroclusters/{uid}"))
        .project(project)
        .credential(req.caller.credential())
        .party(req.caller.party())
        .retries(Retries::Interactive)
        .json()
        .await
        .ok();
    let metadata = detail
        .as_ref()
        .map(|d| d["metadata"].clone())
        .unwrap_or_else(|| {
            let mut annotations =
                json!({ "scope": if project.is_some() { "project" } else { "tenant" } });
            if let Some(p) = project {
                annotations["projectUid"] = json!(p);
            }
            json!({ "uid": uid, "name": name, "annotations": annotations })
        });
    let state = detail
        .as_ref()
        .map(|d| models::state(d).to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "Pending".into());
    let item = json!({
        "metadata": metadata,
        "spec": {
            "cloudType": cloud_type,
            "cloudAccountUid": body["spec"]["cloudAccountUid"].as_str().unwrap_or(""),
        },
        "status": { "state": state },
    });
    let detail_text = detail.map(|d| d.to_string());
    let list_json = item.to_string();
    let row = clusters::NewCluster {
        uid,
        name,
        project_uid: project,
        cloud_type,
        state: &state,
        list_json: &list_json,
        detail_json: detail_text.as_deref(),
    };
    if let Err(e) = clusters::write_through(req.db, req.env.name(), &row).await {
        tracing::warn!(error = %e, uid, "cannot write a new cluster through to the mirror");
    }
}
