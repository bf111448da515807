//! How config grants resolve to a caller's set of allowed permissions (the permissions
//! themselves are `domain::Permission`).

use std::collections::BTreeSet;

use crate::config::PermissionsConfig;
use crate::domain::Permission;

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
