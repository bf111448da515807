//! Set-ups that start but are probably not what the operator meant. Not errors: each has a
//! legitimate use (a backup-only configuration has no environment; a token list kept while
//! trying mode `none` on a laptop), so `check-config` prints them and `serve` logs them at
//! start-up, and both still run.

use super::{AuthMode, Config, ConfigIssue};
use crate::domain::Permission;

impl Config {
    /// Every likely mistake, each naming its key and what to do.
    pub fn warnings(&self) -> Vec<ConfigIssue> {
        let mut out = Vec::new();
        let mut warn = |key: &str, message: &str| {
            out.push(ConfigIssue {
                key: key.to_string(),
                message: message.to_string(),
            })
        };
        if self.environments.is_empty() {
            warn(
                "environments",
                "no environment is configured: nothing is mirrored and every Palette read answers 404 unknown_instance; add an [[environments]] table (name, url, api_token)",
            );
        }
        match self.auth.mode {
            AuthMode::None if !self.auth.tokens.is_empty() => warn(
                "auth.tokens",
                "ignored: auth.mode = \"none\" lets every caller in without a token; set auth.mode = \"static\" to require them, or remove them",
            ),
            AuthMode::Static if self.auth.tokens.is_empty() => warn(
                "auth.tokens",
                "none configured under auth.mode = \"static\": every request but /health is refused with 401; add [[auth.tokens]] or choose another auth.mode",
            ),
            _ => {}
        }
        if self.auth.mode != AuthMode::None
            && self.permissions.enabled
            && self.permissions.grants.is_empty()
        {
            warn(
                "permissions.grants",
                "none configured while permissions are enabled: every caller is refused (403) on every route that needs a permission; add [[permissions.grants]] or set permissions.enabled = false",
            );
        }
        if let Some(message) = self.audit_grant_warning() {
            warn("permissions.grants", &message);
        }
        for (i, w) in self.notifications.webhooks.iter().enumerate() {
            if w.secret.as_ref().is_none_or(|s| s.expose().is_empty()) {
                warn(
                    &format!("notifications.webhooks[{i}].secret"),
                    "not set: deliveries are unsigned, and the receiver cannot tell them from forged ones; set a whsec_ secret",
                );
            }
        }
        out
    }

    /// Reading the audit log used to come with `cluster.create`; it now has its own permission.
    /// Grants that give the first but nobody the second probably predate the change.
    fn audit_grant_warning(&self) -> Option<String> {
        let p = &self.permissions;
        let allows = |perm: Permission| {
            p.grants
                .iter()
                .any(|g| g.allow.iter().any(|pat| perm.matches(pat)))
        };
        (p.enabled && allows(Permission::ClusterCreate) && !allows(Permission::AuditView)).then(
            || {
                format!(
                    "no grant allows {}, which GET /audit needs (cluster.create no longer includes it); grant it to whoever reads the audit log",
                    Permission::AuditView.id()
                )
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(toml: &str) -> Vec<String> {
        let c = Config::from_toml_str(toml).expect("valid");
        c.warnings().into_iter().map(|w| w.key).collect()
    }

    const ENV: &str =
        "[[environments]]\nname = \"p\"\nurl = \"https://x.example\"\napi_token = \"k\"\n";
    const TOKEN: &str =
        "[[auth.tokens]]\ntoken = \"0123456789abcdef0123\"\nsubject = \"user:default/a\"\n";
    const GRANT: &str =
        "[[permissions.grants]]\nprincipals = [\"*\"]\nallow = [\"spectrocloud.*\"]\n";

    #[test]
    fn a_complete_set_up_has_no_warning() {
        assert_eq!(keys(&format!("{ENV}{TOKEN}{GRANT}")), Vec::<String>::new());
    }

    #[test]
    fn each_likely_mistake_is_named() {
        assert_eq!(keys(&format!("{TOKEN}{GRANT}")), vec!["environments"]);
        assert_eq!(
            keys(&format!("[auth]\nmode = \"none\"\n{ENV}{TOKEN}")),
            vec!["auth.tokens"]
        );
        assert_eq!(keys(&format!("{ENV}{GRANT}")), vec!["auth.tokens"]);
        assert_eq!(keys(&format!("{ENV}{TOKEN}")), vec!["permissions.grants"]);
        assert_eq!(
            keys(&format!(
                "{ENV}{TOKEN}{GRANT}[[notifications.webhooks]]\nurl = \"https://hook.example\"\n"
            )),
            vec!["notifications.webhooks[0].secret"]
        );
        let creators =
            "[[permissions.grants]]\nprincipals = [\"*\"]\nallow = [\"spectrocloud.cluster.*\"]\n";
        assert_eq!(
            keys(&format!("{ENV}{TOKEN}{creators}")),
            vec!["permissions.grants"]
        );
    }
}
