//! The seven permissions of the original plugin (exact ids) and this service's own permission
//! to read the audit log. A closed set every layer names (routes, tools, config grants,
//! errors), so it lives with the other domain types; grants resolve in `auth::permissions`.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Permission {
    #[serde(rename = "spectrocloud.cluster.view-info")]
    ClusterViewInfo,
    #[serde(rename = "spectrocloud.cluster.download-kubeconfig")]
    ClusterDownloadKubeconfig,
    #[serde(rename = "spectrocloud.cluster.view-pack-values")]
    ClusterViewPackValues,
    #[serde(rename = "spectrocloud.cluster.view-pack-manifests")]
    ClusterViewPackManifests,
    #[serde(rename = "spectrocloud.cluster.create")]
    ClusterCreate,
    #[serde(rename = "spectrocloud.profile.view-info")]
    ProfileViewInfo,
    #[serde(rename = "spectrocloud.profile.view-clusters")]
    ProfileViewClusters,
    /// Reading the audit log (`GET /audit`): who downloaded kubeconfigs, created clusters, was
    /// refused. An auditor needs no right to create clusters.
    #[serde(rename = "spectrocloud.audit.view")]
    AuditView,
}

impl Permission {
    pub const ALL: [Permission; 8] = [
        Permission::ClusterViewInfo,
        Permission::ClusterDownloadKubeconfig,
        Permission::ClusterViewPackValues,
        Permission::ClusterViewPackManifests,
        Permission::ClusterCreate,
        Permission::ProfileViewInfo,
        Permission::ProfileViewClusters,
        Permission::AuditView,
    ];

    pub const fn id(self) -> &'static str {
        match self {
            Permission::ClusterViewInfo => "spectrocloud.cluster.view-info",
            Permission::ClusterDownloadKubeconfig => "spectrocloud.cluster.download-kubeconfig",
            Permission::ClusterViewPackValues => "spectrocloud.cluster.view-pack-values",
            Permission::ClusterViewPackManifests => "spectrocloud.cluster.view-pack-manifests",
            Permission::ClusterCreate => "spectrocloud.cluster.create",
            Permission::ProfileViewInfo => "spectrocloud.profile.view-info",
            Permission::ProfileViewClusters => "spectrocloud.profile.view-clusters",
            Permission::AuditView => "spectrocloud.audit.view",
        }
    }

    /// The 403 answered to a caller without this permission.
    pub fn denied(self) -> crate::error::AppError {
        crate::error::AppError::permission_denied(self.id())
    }

    /// Whether a grant pattern (`exact id`, `prefix.*` or `*`) covers this permission.
    pub fn matches(self, pattern: &str) -> bool {
        let id = self.id();
        if pattern == "*" || pattern == id {
            return true;
        }
        match pattern.strip_suffix('*') {
            Some(prefix) if prefix.ends_with('.') => id.starts_with(prefix),
            _ => false,
        }
    }

    /// A pattern is valid when it is `*`, an exact id, or a `prefix.*` covering at least one id.
    pub fn is_valid_pattern(pattern: &str) -> bool {
        if pattern == "*" || Self::ALL.iter().any(|p| p.id() == pattern) {
            return true;
        }
        pattern.ends_with(".*") && Self::ALL.iter().any(|p| p.matches(pattern))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(Permission::ClusterCreate.matches("spectrocloud.cluster.*"));
        assert!(!Permission::ProfileViewInfo.matches("spectrocloud.cluster.*"));
        assert!(Permission::ProfileViewInfo.matches("spectrocloud.*"));
        assert!(Permission::ProfileViewInfo.matches("*"));
        assert!(!Permission::ProfileViewInfo.matches("spectrocloud.profile.view"));
        assert!(Permission::is_valid_pattern("spectrocloud.profile.*"));
        assert!(!Permission::is_valid_pattern("spectrocloud.nothing.*"));
        assert!(!Permission::is_valid_pattern("spectrocloud.cluster.view"));
        // The audit is not part of creating clusters.
        assert!(!Permission::AuditView.matches("spectrocloud.cluster.*"));
        assert!(Permission::AuditView.matches("spectrocloud.audit.*"));
        assert!(Permission::AuditView.matches("spectrocloud.*"));
    }
}
