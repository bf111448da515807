//! Objects given by name: one match is the answer, several are an error listing the candidates
//! (so a caller can pick a uid or a project), none is an error with the closest names.

use crate::error::{AppError, Candidate, NameHelp};
use crate::store::NamedRow;

/// How many "did you mean" names a miss offers.
pub const CLOSEST: usize = 5;

/// The one row a name matched, or the error that helps pick one (`what`: "cluster", …;
/// `narrow`: the inputs that tell them apart).
pub fn pick(
    what: &str,
    name: &str,
    env: &str,
    rows: Vec<NamedRow>,
    known: &[String],
    narrow: &str,
) -> Result<NamedRow, AppError> {
    let mut rows = rows;
    match rows.len() {
        1 => Ok(rows.remove(0)),
        0 => Err(
            AppError::not_found(format!("No {what} named {name}")).with_help(NameHelp {
                candidates: Vec::new(),
                did_you_mean: closest(name, known, CLOSEST),
            }),
        ),
        n => Err(AppError::bad_request(format!(
            "{n} {what}s are named {name}; give {narrow} (see candidates)"
        ))
        .with_help(NameHelp {
            candidates: rows.into_iter().map(|r| candidate(r, env)).collect(),
            did_you_mean: Vec::new(),
        })),
    }
}

fn candidate(r: NamedRow, env: &str) -> Candidate {
    Candidate {
        name: r.name,
        uid: r.uid,
        scope: r.scope,
        project_uid: r.project_uid,
        project_name: r.project_name,
        environment: env.to_string(),
    }
}

/// Up to `n` names of `known` closest to `name` (case-insensitive): names containing it or
/// contained in it first, then by edit distance; far-off names are left out.
pub fn closest(name: &str, known: &[String], n: usize) -> Vec<String> {
    let needle = name.to_lowercase();
    let mut scored: Vec<(usize, &String)> = known
        .iter()
        .filter_map(|k| {
            let lower = k.to_lowercase();
            let d = if lower.contains(&needle) || needle.contains(&lower) {
                0
            } else {
                distance(&needle, &lower)
            };
            // More than a third of the name changed is not a typo.
            (d <= (needle.chars().count() / 3).max(1)).then_some((d, k))
        })
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(n).map(|(_, k)| k.clone()).collect()
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn closest_prefers_containing_names_then_typos() {
        let known = names(&[
            "eks-infra",
            "aks-infra",
            "edge-native",
            "eks-infra-ha",
            "zzz",
        ]);
        assert_eq!(
            closest("EKS-INFRA", &known, 5),
            names(&["eks-infra", "eks-infra-ha", "aks-infra"])
        );
        assert_eq!(closest("eks-infr", &known, 1), names(&["eks-infra"]));
        assert!(closest("completely-else", &known, 5).is_empty());
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
    }

    fn row(uid: &str, project: Option<&str>) -> NamedRow {
        NamedRow {
            uid: uid.into(),
            name: "web".into(),
            scope: if project.is_some() {
                "project"
            } else {
                "tenant"
            }
            .into(),
            project_uid: project.map(str::to_string),
            project_name: project.map(|p| format!("name-{p}")),
        }
    }

    #[test]
    fn pick_lists_candidates_or_closest_names() {
        let one = pick("cluster", "web", "env0", vec![row("a", None)], &[], "x").unwrap();
        assert_eq!(one.uid, "a");
        let two = vec![row("a", Some("p1")), row("b", Some("p2"))];
        let err = pick("cluster", "web", "env0", two, &[], "projectName").unwrap_err();
        let help = err.help.unwrap();
        assert_eq!(help.candidates.len(), 2);
        assert_eq!(help.candidates[1].project_name.as_deref(), Some("name-p2"));
        assert_eq!(help.candidates[0].environment, "env0");
        let known = names(&["web-1", "db"]);
        let err = pick("cluster", "web", "env0", vec![], &known, "x").unwrap_err();
        assert_eq!(err.code.as_str(), "not_found");
        assert_eq!(err.help.unwrap().did_you_mean, names(&["web-1"]));
    }
}
