//! The seven permissions of the original plugin (exact ids), this service's own permission to
//! read the audit log, and how config grants resolve to a caller's set of allowed permissions.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::config::PermissionsConfig;

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

/// Resolves which permissions a principal (subject + groups) holds under the configured grants.
/// With permissions disabled, everyone holds them all.
pub fn resolve(
    config: &PermissionsConfig,
    subject: &str,
    groups: &[String],
) -> BTreeSet<Permission> {
    if !config.enabled {
        return Permission::ALL.into_iter().collect();
    }
    let mut allowed = BTreeSet::new();
    for grant in &config.grants {
        let applies = grant
            .principals
            .iter()
            .any(|p| p == "*" || p == subject || groups.iter().any(|g| g == p));
        if !applies {
            continue;
        }
        for perm in Permission::ALL {
            if grant.allow.iter().any(|pat| perm.matches(pat)) {
                allowed.insert(perm);
            }
        }
    }
    allowed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Grant;

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

    #[test]
    fn resolves_by_subject_group_and_star() {
        let cfg = PermissionsConfig {
            enabled: true,
            grants: vec![
                Grant {
                    principals: vec!["group:default/platform".into()],
                    allow: vec!["spectrocloud.cluster.*".into()],
                },
                Grant {
                    principals: vec!["*".into()],
                    allow: vec!["spectrocloud.profile.view-info".into()],
                },
            ],
        };
        let p = resolve(&cfg, "user:default/bob", &["group:default/platform".into()]);
        assert!(p.contains(&Permission::ClusterCreate));
        assert!(p.contains(&Permission::ProfileViewInfo));
        assert!(!p.contains(&Permission::ProfileViewClusters));
        let q = resolve(&cfg, "user:default/eve", &[]);
        assert_eq!(
            q.into_iter().collect::<Vec<_>>(),
            vec![Permission::ProfileViewInfo]
        );
        let off = PermissionsConfig {
            enabled: false,
            grants: vec![],
        };
        assert_eq!(resolve(&off, "x", &[]).len(), 8);
    }
}
