//! Parsed input types: what a request may carry, checked once at the edge (HTTP handlers, MCP
//! tools) so the service and the store only ever see valid values.

use std::fmt;

use crate::error::AppError;

/// Palette's documented rate limits, one crate shared with the simulator (so the limits it
/// enforces are the ones the client paces itself under).
pub use palette_limits as limits;
mod permission;
pub mod vocab;

pub use permission::Permission;

/// Palette uids are short alphanumeric strings (24 hex characters in practice). Anything else
/// is refused before it can reach a URL path.
pub fn is_valid_uid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A Palette uid: short and alphanumeric (`-`, `_` allowed). Anything else never reaches
/// Palette or a query.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uid(String);

impl Uid {
    /// `what` names the value in the 400 message (`cluster uid`, `projectUid`).
    pub fn parse(what: &str, value: &str) -> Result<Uid, AppError> {
        if is_valid_uid(value) {
            Ok(Uid(value.to_string()))
        } else {
            Err(AppError::bad_request(format!(
                "invalid {what} `{}`: Palette uids are short alphanumeric strings",
                value.chars().take(64).collect::<String>()
            )))
        }
    }

    /// An optional uid: absent and empty are the same (every route and tool agrees).
    pub fn optional(what: &str, value: Option<&str>) -> Result<Option<Uid>, AppError> {
        value
            .filter(|v| !v.is_empty())
            .map(|v| Uid::parse(what, v))
            .transpose()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Uid {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Palette cloud type. The known ones are named; others (gcp, maas, openstack, ...) pass
/// through as long as they look like one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloudType {
    Aws,
    Eks,
    Azure,
    Aks,
    Vsphere,
    /// Virtual clusters.
    Nested,
    Other(String),
}

impl CloudType {
    /// Case-insensitive, as Palette.
    pub fn parse(raw: &str) -> Result<CloudType, AppError> {
        let c = raw.to_ascii_lowercase();
        if c.is_empty()
            || c.len() > 32
            || !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(AppError::bad_request(format!(
                "invalid cloud type `{}`",
                raw.chars().take(32).collect::<String>()
            )));
        }
        Ok(CloudType::from(c))
    }

    /// An optional filter: absent and empty are the same.
    pub fn optional(raw: Option<&str>) -> Result<Option<CloudType>, AppError> {
        raw.filter(|v| !v.is_empty())
            .map(CloudType::parse)
            .transpose()
    }

    pub fn as_str(&self) -> &str {
        match self {
            CloudType::Aws => "aws",
            CloudType::Eks => "eks",
            CloudType::Azure => "azure",
            CloudType::Aks => "aks",
            CloudType::Vsphere => "vsphere",
            CloudType::Nested => "nested",
            CloudType::Other(c) => c,
        }
    }

    /// Whether the sync mirrors cloud accounts of this type (others are read live).
    pub fn accounts_mirrored(&self) -> bool {
        ACCOUNT_CLOUDS.contains(&self.as_str())
    }
}

/// What Palette or the mirror says, read as it stands: it was valid when it was stored, so
/// it is never refused (`parse` is for input); the known names in any case.
impl From<&str> for CloudType {
    fn from(stored: &str) -> CloudType {
        match stored.to_ascii_lowercase().as_str() {
            "aws" => CloudType::Aws,
            "eks" => CloudType::Eks,
            "azure" => CloudType::Azure,
            "aks" => CloudType::Aks,
            "vsphere" => CloudType::Vsphere,
            "nested" => CloudType::Nested,
            _ => CloudType::Other(stored.to_string()),
        }
    }
}

impl From<String> for CloudType {
    fn from(stored: String) -> CloudType {
        CloudType::from(stored.as_str())
    }
}

/// Cloud types whose accounts the sync mirrors.
pub const ACCOUNT_CLOUDS: [&str; 3] = ["aws", "azure", "vsphere"];

/// Where a Palette object lives: the tenant, or a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Tenant,
    Project,
    /// Palette's `system` scope (shared profiles).
    System,
}

impl Scope {
    /// Palette's `metadata.annotations.scope` text; unknown text is a project object (the
    /// narrower reading, so nothing passes for a tenant object by accident).
    pub fn from_palette(s: &str) -> Scope {
        match s {
            "tenant" => Scope::Tenant,
            "system" => Scope::System,
            _ => Scope::Project,
        }
    }
}

/// A cluster profile's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileType {
    Infra,
    Cluster,
    AddOn,
    System,
}

impl ProfileType {
    pub fn parse(raw: &str) -> Result<ProfileType, AppError> {
        match raw {
            "infra" => Ok(ProfileType::Infra),
            "cluster" => Ok(ProfileType::Cluster),
            "add-on" => Ok(ProfileType::AddOn),
            "system" => Ok(ProfileType::System),
            t => Err(AppError::bad_request(format!(
                "unknown profileType `{}`: use infra, cluster, add-on or system",
                t.chars().take(32).collect::<String>()
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProfileType::Infra => "infra",
            ProfileType::Cluster => "cluster",
            ProfileType::AddOn => "add-on",
            ProfileType::System => "system",
        }
    }

    /// The `profileType` filter of a project's profiles: one type, or by default infra and
    /// cluster profiles (what the deployment wizard offers), as the original.
    pub fn filter(raw: Option<&str>) -> Result<Vec<ProfileType>, AppError> {
        match raw.filter(|t| !t.is_empty()) {
            Some(t) => Ok(vec![ProfileType::parse(t)?]),
            None => Ok(vec![ProfileType::Infra, ProfileType::Cluster]),
        }
    }
}

/// Exact profile names to search for: at least one.
#[derive(Debug, Clone)]
pub struct ProfileNames(Vec<String>);

impl ProfileNames {
    pub fn parse(names: Vec<String>) -> Result<ProfileNames, AppError> {
        if names.is_empty() {
            return Err(AppError::bad_request(
                "names array is required in request body",
            ));
        }
        Ok(ProfileNames(names))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// How an audited request ended. Stored and answered in lowercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum AuditOutcome {
    Success,
    Failure,
    /// Refused before it ran (permission, missing Palette token, bad input).
    Denied,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
            AuditOutcome::Denied => "denied",
        }
    }
}

/// How a sync run ended (`running` while it has not). Stored and answered in lowercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum RunOutcome {
    Running,
    Success,
    Failed,
    Interrupted,
}

impl RunOutcome {
    pub fn parse(s: &str) -> Option<RunOutcome> {
        match s {
            "running" => Some(RunOutcome::Running),
            "success" => Some(RunOutcome::Success),
            "failed" => Some(RunOutcome::Failed),
            "interrupted" => Some(RunOutcome::Interrupted),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Success => "success",
            RunOutcome::Failed => "failed",
            RunOutcome::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_checked_and_empty_is_absent() {
        assert_eq!(Uid::parse("x", "abc123").unwrap().as_str(), "abc123");
        assert!(Uid::parse("x", "../etc").is_err());
        assert!(Uid::parse("x", "").is_err());
        assert_eq!(Uid::optional("x", Some("")).unwrap(), None);
        assert_eq!(Uid::optional("x", None).unwrap(), None);
        assert!(Uid::optional("x", Some("a b")).is_err());
    }

    #[test]
    fn cloud_types_fold_case_and_keep_unknown_ones() {
        assert_eq!(CloudType::parse("AWS").unwrap(), CloudType::Aws);
        assert_eq!(
            CloudType::parse("gcp").unwrap(),
            CloudType::Other("gcp".into())
        );
        assert!(CloudType::parse("a/b").is_err());
        assert!(CloudType::Vsphere.accounts_mirrored());
        assert!(!CloudType::Eks.accounts_mirrored());
        assert_eq!(CloudType::optional(Some("")).unwrap(), None);
    }

    #[test]
    fn stored_cloud_types_are_read_never_refused() {
        assert_eq!(CloudType::from("nested"), CloudType::Nested);
        assert_eq!(CloudType::from("EKS"), CloudType::Eks);
        // What Palette stored passes as it is, even where `parse` would refuse it as input.
        assert_eq!(CloudType::from(""), CloudType::Other(String::new()));
        assert_eq!(
            CloudType::from("edge-native/x".to_string()),
            CloudType::Other("edge-native/x".into())
        );
    }

    #[test]
    fn audit_outcomes_are_answered_as_stored() {
        for o in [
            AuditOutcome::Success,
            AuditOutcome::Failure,
            AuditOutcome::Denied,
        ] {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
    }

    #[test]
    fn profile_types_default_to_infra_and_cluster() {
        assert_eq!(
            ProfileType::filter(None).unwrap(),
            vec![ProfileType::Infra, ProfileType::Cluster]
        );
        assert_eq!(
            ProfileType::filter(Some("add-on")).unwrap(),
            vec![ProfileType::AddOn]
        );
        assert!(ProfileType::filter(Some("bogus")).is_err());
    }

    #[test]
    fn outcomes_round_trip() {
        for o in [
            RunOutcome::Running,
            RunOutcome::Success,
            RunOutcome::Failed,
            RunOutcome::Interrupted,
        ] {
            assert_eq!(RunOutcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(RunOutcome::parse("x"), None);
        assert!(ProfileNames::parse(vec![]).is_err());
        assert_eq!(Scope::from_palette("tenant"), Scope::Tenant);
    }
}

/// Orders version labels as people read them: runs of digits by value, the rest as text
/// (`1.9.0` < `1.10.0`). The order of a profile's versions in answers, which must not depend
/// on whether a version's details (and its own timestamp) are in the mirror yet.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let o = match (x, y) {
            ((true, n), (true, m)) => {
                let (n, m) = (n.trim_start_matches('0'), m.trim_start_matches('0'));
                n.len().cmp(&m.len()).then_with(|| n.cmp(m))
            }
            ((_, p), (_, q)) => p.cmp(q),
        };
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    ca.len().cmp(&cb.len())
}

#[cfg(test)]
mod version_order_tests {
    use super::compare_versions;
    use std::cmp::Ordering::*;

    #[test]
    fn versions_compare_by_number_then_text() {
        assert_eq!(compare_versions("1.9.0", "1.10.0"), Less);
        assert_eq!(compare_versions("1.0.0", "1.0.0"), Equal);
        assert_eq!(compare_versions("1.0", "1.0.1"), Less);
        assert_eq!(compare_versions("2.0.0", "10.0.0"), Less);
        assert_eq!(compare_versions("1.0.0-rc1", "1.0.0"), Greater);
        assert_eq!(compare_versions("", "1.0"), Less);
    }
}
