//! The request envelopes: `POST /clusters` (a cluster body with `spec.cloudType`) and
//! `POST /virtualclusters` (`{clusterConfig}`), checked as the original plugin checks them.

use serde_json::Value;

use crate::error::AppError;

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

/// `spec.cloudType` present and supported, and a cluster name: the endpoint to post to.
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

/// `{clusterConfig}` with a name and a cluster group (the original's two checks): the body.
pub fn check_virtual(body: &Value) -> Result<Value, AppError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cloud_types_dispatch_case_insensitively() {
        let b = json!({"metadata": {"name": "x"}, "spec": {"cloudType": "EKS"}});
        assert_eq!(check(&b).unwrap(), "eks");
        let b = json!({"metadata": {"name": "x"}, "spec": {"cloudType": "nested"}});
        assert_eq!(check(&b).unwrap(), "virtual");
        assert!(check(&json!({"metadata": {"name": "x"}, "spec": {"cloudType": "gcp"}})).is_err());
    }
}
