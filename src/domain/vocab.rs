//! One vocabulary for what the service shows about clusters, on every surface (HTTP reports,
//! MCP answers, the fleet page, CSV): a value Palette has not reported, or reports as unknown,
//! is the one word [`UNKNOWN`]; a cluster without a project is [`TENANT`]. Data fields stay
//! as they are (an absent health is `null`, or left out where a schema types the field).

use std::borrow::Cow;

/// A state, health, cloud type or Kubernetes version nobody knows.
pub const UNKNOWN: &str = "unknown";

/// Where a cluster outside every project counts.
pub const TENANT: &str = "tenant";

/// The word shown for a value: the value itself, or [`UNKNOWN`] when it is missing, empty or
/// Palette's own `Unknown` (so state `Unknown` and a missing health read the same).
pub fn word(value: Option<&str>) -> Cow<'_, str> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() && !v.eq_ignore_ascii_case(UNKNOWN) => Cow::Borrowed(v),
        _ => Cow::Borrowed(UNKNOWN),
    }
}

/// The word shown for a cluster's project: its name, else its uid, else [`TENANT`].
pub fn project<'a>(name: Option<&'a str>, uid: Option<&'a str>) -> &'a str {
    name.or(uid).filter(|s| !s.is_empty()).unwrap_or(TENANT)
}

/// Virtual clusters (cloud type `nested`) are clusters: Palette's dashboard lists them among
/// clusters, so every count of clusters includes them; this is the cloud type they count under.
pub const VIRTUAL_CLOUD: &str = "nested";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_is_one_word() {
        for v in [None, Some(""), Some("  "), Some("Unknown"), Some("UNKNOWN")] {
            assert_eq!(word(v), UNKNOWN, "{v:?}");
        }
        assert_eq!(word(Some("Running")), "Running");
        assert_eq!(word(Some("UnHealthy")), "UnHealthy");
        assert_eq!(project(Some("team-a"), Some("p1")), "team-a");
        assert_eq!(project(None, Some("p1")), "p1");
        assert_eq!(project(None, None), TENANT);
    }
}
