//! What a pack search matches, said in words: a name takes its family in any case
//! (`kubernetes` is `kubernetes`, `kubernetes-eks`, `kubernetes-aks`, …); a name that matches
//! nothing gets the pack names containing it and the close ones; a version is a prefix up to
//! a dot, dash or plus, and the answer says so. Pure functions over the names in use, shared
//! by the pack-usage report, the MCP tools and the fleet page (all through
//! [`super::reports::pack_usage_report`]).

use serde::Serialize;

use super::names::{CLOSEST, closest};

/// How a pack search was read and what it matched, beside the report's counts.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PackMatch {
    /// The name asked for, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The pack names the name took (its family), each counted under its own name.
    pub matched_names: Vec<String>,
    /// The name rule in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The version rule in words (`1.3 takes 1.3, 1.3.x, …, not 1.30`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_rule: Option<String>,
    /// Clusters running a matched pack at a matched version.
    pub clusters: usize,
    /// The outcome in one or two plain sentences.
    pub message: String,
    /// No family matched: pack names in use that contain the name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containing: Vec<String>,
    /// No family matched: close pack names (a typo).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub did_you_mean: Vec<String>,
    /// The family matched but no version did: its versions in use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub versions_in_use: Vec<String>,
}

/// The pack names of `known` that `name` takes: the name itself and names starting with
/// `<name>-`, in any case (Unicode-aware), in `known`'s order.
pub fn family(name: &str, known: &[String]) -> Vec<String> {
    let want = name.trim().to_lowercase();
    let dash = format!("{want}-");
    known
        .iter()
        .filter(|k| {
            // Trimmed on both sides: a name typed without Palette's stray blanks still finds it.
            let k = k.trim().to_lowercase();
            k == want || k.starts_with(&dash)
        })
        .cloned()
        .collect()
}

/// The pack names of `known` containing `name` (any case).
pub fn containing(name: &str, known: &[String]) -> Vec<String> {
    let want = name.trim().to_lowercase();
    known
        .iter()
        .filter(|k| k.to_lowercase().contains(&want))
        .cloned()
        .collect()
}

pub fn name_rule(name: &str) -> String {
    format!("{name} takes the pack {name} and every pack named {name}-…, in any case")
}

/// `1.3 takes 1.3, 1.3.x, 1.3-… and 1.3+…, not 1.30`.
pub fn version_rule(v: &str) -> String {
    format!("{v} takes {v}, {v}.x, {v}-… and {v}+…, not {v}0")
}

/// `a`, `a or b`, `a, b or c`.
fn either(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// What was asked: a name (optional) and a version prefix (optional).
pub struct Asked<'a> {
    pub name: Option<&'a str>,
    pub version: Option<&'a str>,
}

/// What the search found, for [`explain`].
pub struct Found<'a> {
    /// Every pack name in use the caller may see.
    pub known: &'a [String],
    /// The names the search took ([`family`]).
    pub matched: &'a [String],
    /// Distinct clusters on a matched pack and version.
    pub clusters: usize,
    /// The matched packs' versions in use, when the version matched none of them.
    pub versions_in_use: Vec<String>,
}

/// The words of a search's answer.
pub fn explain(a: &Asked<'_>, f: Found<'_>) -> PackMatch {
    let at = a
        .version
        .map(|v| format!(" at version {v} ({})", version_rule(v)))
        .unwrap_or_default();
    let mut m = PackMatch {
        name: a.name.map(str::to_string),
        matched_names: f.matched.to_vec(),
        name_rule: a.name.map(name_rule),
        version: a.version.map(str::to_string),
        version_rule: a.version.map(version_rule),
        clusters: f.clusters,
        ..PackMatch::default()
    };
    let Some(name) = a.name else {
        m.message = format!("{} clusters run a pack{at}.", f.clusters);
        return m;
    };
    if f.matched.is_empty() {
        m.containing = containing(name, f.known);
        m.did_you_mean = closest(name, f.known, CLOSEST)
            .into_iter()
            .filter(|c| !m.containing.contains(c))
            .collect();
        m.message = no_family(name, &m.containing, &m.did_you_mean);
        return m;
    }
    let names = either(f.matched);
    m.message = match f.clusters {
        0 if !f.versions_in_use.is_empty() => format!(
            "No cluster runs {names}{at}. Versions in use: {}.",
            f.versions_in_use.join(", ")
        ),
        0 => format!("No cluster runs {names}{at}."),
        1 => format!("1 cluster runs {names}{at}."),
        n => format!("{n} clusters run {names}{at}."),
    };
    m.versions_in_use = f.versions_in_use;
    m
}

fn no_family(name: &str, containing: &[String], close: &[String]) -> String {
    let mut s = format!("No pack is named {name} or {name}-… (in any case).");
    if !close.is_empty() {
        s.push_str(&format!(" Did you mean {}?", either(close)));
    }
    if !containing.is_empty() {
        s.push_str(&format!(
            " Pack names containing {name}: {}.",
            containing.join(", ")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn known() -> Vec<String> {
        names(&[
            "cni-aws-vpc-eks",
            "csi-aws-ebs",
            "kubernetes",
            "kubernetes-aks",
            "kubernetes-eks",
            "kubernetesish",
            "ubuntu-aws",
        ])
    }

    #[test]
    fn a_name_takes_its_family_in_any_case() {
        let k = known();
        let fam = names(&["kubernetes", "kubernetes-aks", "kubernetes-eks"]);
        assert_eq!(family("kubernetes", &k), fam);
        assert_eq!(family("Kubernetes", &k), fam);
        assert_eq!(family("KUBERNETES-EKS", &k), names(&["kubernetes-eks"]));
        assert!(family("kube", &k).is_empty(), "a family ends at a dash");
        assert!(family("aws", &k).is_empty());
        let blank = names(&["\tevil-pack"]);
        assert_eq!(family("\tevil-pack", &blank), blank);
        assert_eq!(family("Evil-Pack", &blank), blank);
    }

    fn nothing<'a>(known: &'a [String]) -> Found<'a> {
        Found {
            known,
            matched: &[],
            clusters: 0,
            versions_in_use: Vec::new(),
        }
    }

    #[test]
    fn no_family_lists_containing_and_close_names() {
        let k = known();
        let asked = Asked {
            name: Some("kubernets"),
            version: None,
        };
        let m = explain(&asked, nothing(&k));
        assert_eq!(m.did_you_mean, names(&["kubernetes"]));
        assert!(
            m.message.contains("Did you mean kubernetes?"),
            "{}",
            m.message
        );
        let asked = Asked {
            name: Some("AWS"),
            version: None,
        };
        let m = explain(&asked, nothing(&k));
        assert_eq!(
            m.containing,
            names(&["cni-aws-vpc-eks", "csi-aws-ebs", "ubuntu-aws"])
        );
        assert!(m.did_you_mean.is_empty(), "{:?}", m.did_you_mean);
        assert!(
            m.message.starts_with("No pack is named AWS"),
            "{}",
            m.message
        );
    }

    #[test]
    fn the_version_rule_is_said_in_words() {
        assert_eq!(
            version_rule("1.3"),
            "1.3 takes 1.3, 1.3.x, 1.3-… and 1.3+…, not 1.30"
        );
        let k = known();
        let matched = names(&["kubernetes", "kubernetes-eks"]);
        let m = explain(
            &Asked {
                name: Some("kubernetes"),
                version: Some("1.3"),
            },
            Found {
                known: &k,
                matched: &matched,
                clusters: 0,
                versions_in_use: names(&["1.29", "1.30.4"]),
            },
        );
        assert_eq!(
            m.message,
            "No cluster runs kubernetes or kubernetes-eks at version 1.3 \
             (1.3 takes 1.3, 1.3.x, 1.3-… and 1.3+…, not 1.30). Versions in use: 1.29, 1.30.4."
        );
        assert!(!m.message.contains('*'));
    }
}
