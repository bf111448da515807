//! Backstage entity references as the original plugin's catalog ingestor names its entities,
//! so the original actions' `entityRef` fields point at the same catalog entities:
//! `resource:default/<env>-<project name>-<name>` for project objects, `…-tenant-<name>` for
//! tenant ones, every part lower-cased with anything but `[a-z0-9-]` turned into `-`.

/// Lower case, `[^a-z0-9-]` → `-`, runs of `-` collapsed, no `-` at either end.
fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
            c
        } else {
            '-'
        };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out.trim_matches('-').to_string()
}

/// The entity reference of a `Resource` named `name` in environment `env`: in `project` (its
/// name, or its uid when the name is not known, as the ingestor falls back), else the tenant.
pub fn resource_ref(env: &str, project: Option<&str>, name: &str) -> String {
    let local = format!("{}-{name}", project.unwrap_or("tenant"));
    let env = sanitize(env);
    let local = sanitize(&local);
    if env.is_empty() {
        format!("resource:default/{local}")
    } else {
        format!("resource:default/{env}-{local}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_ingestor() {
        assert_eq!(
            resource_ref("Prod", Some("Team A"), "web_01"),
            "resource:default/prod-team-a-web-01"
        );
        assert_eq!(
            resource_ref("prod", None, "--Edge  Lab--"),
            "resource:default/prod-tenant-edge-lab"
        );
        assert_eq!(resource_ref("", None, "x"), "resource:default/tenant-x");
    }
}
