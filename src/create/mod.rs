//! Cluster creation: checks the request, forwards it to Palette's creation endpoint for its
//! cloud type (never retried: a repeat could create twice), writes the new cluster into the
//! mirror at once (write-through) and audits it.

use actix_web::HttpResponse;
use serde_json::{Value, json};

use crate::api::extract::Live;
use crate::auth::audit::{self, Action};
use crate::error::{AppError, AppResult};
use crate::palette::models::is_valid_uid;
use crate::palette::{Retries, models};
use crate::store::clusters;

/// Palette creation endpoint of a `spec.cloudType` (the original's dispatch).
pub fn endpoint_for(cloud_type: &str) -> Option<&'static str> {
    Some(match cloud_type {
        "eks" => "eks",
        "aws" => "aws",
        "aks" => "aks",
        "azure" => "azure",
        "vsphere" => "vsphere",
        "nested" | "virtual" => "virtual",
        _ => return None,
    })
}

/// Checks what the original checks (`spec.cloudType` present and supported) plus a cluster
/// name, so obviously broken requests never reach Palette.
pub fn check(body: &Value) -> Result<&'static str, AppError> {
    if !body.is_object() {
        return Err(AppError::bad_request(
            "Invalid cluster configuration: the body must be a JSON object",
        ));
    }
    let cloud = body["spec"]["cloudType"]
        .as_str()
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| {
            AppError::bad_request("Invalid cluster configuration: cloudType is required")
        })?
        .to_ascii_lowercase();
    let endpoint = endpoint_for(&cloud)
        .ok_or_else(|| AppError::bad_request(format!("Unsupported cloud type: {cloud}")))?;
    if body["metadata"]["name"]
        .as_str()
        .is_none_or(|n| n.trim().is_empty())
    {
        return Err(AppError::bad_request(
            "Invalid cluster configuration: metadata.name is required",
        ));
    }
    Ok(endpoint)
}

/// POST /clusters: 201 with Palette's answer (`{uid}`).
pub async fn create(live: &Live, project: Option<&str>, body: Value) -> AppResult<HttpResponse> {
    let endpoint = refused_audited(live, check(&body)).await?;
    post(live, project, endpoint, body).await
}

/// Records a creation attempt in the audit log.
async fn audited(live: &Live, uid: Option<&str>, success: bool, detail: String) {
    audit::record(
        &live.state.db,
        audit::Event {
            subject: &live.caller.subject,
            user: Some(&live.user),
            action: Action::ClusterCreate,
            env: live.env.name(),
            object_uid: uid,
            success,
            detail: Some(detail),
        },
    )
    .await;
}

/// A request refused before reaching Palette is an attempt too: audited, then returned.
async fn refused_audited<T>(live: &Live, checked: AppResult<T>) -> AppResult<T> {
    if let Err(e) = &checked {
        audited(live, None, false, format!("refused: {}", e.message)).await;
    }
    checked
}

/// POST /virtualclusters `{clusterConfig}`: the original's two checks, then the virtual
/// endpoint.
pub async fn create_virtual(
    live: &Live,
    project: Option<&str>,
    body: Value,
) -> AppResult<HttpResponse> {
    let config = refused_audited(live, check_virtual(&body)).await?;
    post(live, project, "virtual", config).await
}

fn check_virtual(body: &Value) -> AppResult<Value> {
    let config = body["clusterConfig"].clone();
    if config["metadata"]["name"]
        .as_str()
        .is_none_or(|n| n.trim().is_empty())
    {
        return Err(AppError::bad_request("Cluster name is required"));
    }
    if config["spec"]["clusterConfig"]["hostClusterConfig"]["clusterGroup"]["uid"]
        .as_str()
        .is_none_or(|n| n.trim().is_empty())
    {
        return Err(AppError::bad_request("Cluster group UID is required"));
    }
    Ok(config)
}

async fn post(
    live: &Live,
    project: Option<&str>,
    endpoint: &str,
    body: Value,
) -> AppResult<HttpResponse> {
    let name = body["metadata"]["name"].as_str().unwrap_or("").to_string();
    let result = live
        .env
        .client
        .post(format!("/v1/spectroclusters/{endpoint}"))
        .project(project)
        .json_body(body.clone())
        .credential(live.user.credential())
        .retries(Retries::None)
        .send()
        .await;
    let result = result.map_err(|e| live.failed(e));
    let answer = result.and_then(|a| {
        let v = a.json("/v1/spectroclusters").map_err(AppError::from)?;
        Ok((a.status, v))
    });
    let uid = answer
        .as_ref()
        .ok()
        .and_then(|(_, v)| v["uid"].as_str())
        .filter(|u| is_valid_uid(u))
        .map(str::to_string);
    let detail = match &answer {
        Ok(_) => format!("{endpoint} cluster {name}"),
        Err(e) => format!("{endpoint} cluster {name}: {}", e.message),
    };
    audited(live, uid.as_deref(), answer.is_ok(), detail).await;
    let (_, value) = answer?;
    if let Some(uid) = &uid {
        write_through(live, project, endpoint, uid, &name, &body).await;
    }
    // 201 whatever 2xx Palette chose, as the original answered.
    Ok(HttpResponse::Created()
        .insert_header((crate::api::respond::SOURCE, "live"))
        .json(value))
}

/// Puts the new cluster in the mirror at once, from Palette's details when they can be read,
/// else from the request; the next sync replaces it with Palette's own list item.
async fn write_through(
    live: &Live,
    project: Option<&str>,
    endpoint: &str,
    uid: &str,
    name: &str,
    body: &Value,
) {
    let cloud_type = if endpoint == "virtual" {
        "nested"
    } else {
        endpoint
    };
    let detail = live
        .env
        .client
        .get(format!("/v1/dashboard/spectroclusters/{uid}"))
        .project(project)
        .credential(live.user.credential())
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
    if let Err(e) = clusters::write_through(&live.state.db, live.env.name(), &row).await {
        tracing::warn!(error = %e, uid, "cannot write a new cluster through to the mirror");
    }
}
