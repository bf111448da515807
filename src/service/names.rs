//! Objects given by name: one match is the answer, several are an error listing the candidates
//! (so a caller can pick a uid or a project), none is an error with the closest names.

use crate::error::{AppError, Candidate, NameHelp};
use crate::store::NamedRow;

/// How many "did you mean" names a miss offers.
pub const CLOSEST: usize = 5;

/// How a name is looked up: what it names, in which environment, and the project given, if
/// any. `narrow` lists the inputs that tell same-named objects apart (for the advice).
pub struct Lookup<'a> {
    pub what: &'a str,
    pub name: &'a str,
    pub env: &'a str,
    /// The project the caller named (its uid): its own object wins over a tenant one.
    pub project: Option<&'a str>,
    pub narrow: &'a str,
}

/// The one row a name matched, or the error that helps pick one. With a project given, that
/// project's own object is the more specific match and wins over same-named tenant objects.
pub fn pick(l: &Lookup<'_>, rows: Vec<NamedRow>, known: &[String]) -> Result<NamedRow, AppError> {
    let mut rows = narrowed(rows, l.project);
    let (what, name) = (l.what, l.name);
    match rows.len() {
        1 => Ok(rows.remove(0)),
        0 => Err(
            AppError::not_found(format!("No {what} named {name}")).with_help(NameHelp {
                candidates: Vec::new(),
                did_you_mean: closest(name, known, CLOSEST),
            }),
        ),
        n => {
            // Advice that leads somewhere: once a project is given, only a uid is left.
            let advice = match l.project {
                Some(_) => "give the uid of one of the candidates".to_string(),
                None => format!("give {} (see candidates)", l.narrow),
            };
            Err(
                AppError::bad_request(format!("{n} {what}s are named {name}; {advice}")).with_help(
                    NameHelp {
                        candidates: rows.into_iter().map(|r| candidate(r, l.env)).collect(),
                        did_you_mean: Vec::new(),
                    },
                ),
            )
        }
    }
}

/// With a project given and several rows, the project's own rows when there are any.
fn narrowed(rows: Vec<NamedRow>, project: Option<&str>) -> Vec<NamedRow> {
    let Some(project) = project else {
        return rows;
    };
    if rows.len() < 2
        || !rows
            .iter()
            .any(|r| r.project_uid.as_deref() == Some(project))
    {
        return rows;
    }
    rows.into_iter()
        .filter(|r| r.project_uid.as_deref() == Some(project))
        .collect()
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

    fn lookup(project: Option<&str>) -> Lookup<'_> {
        Lookup {
            what: "cluster",
            name: "web",
            env: "env0",
            project,
            narrow: "projectName or clusterUid",
        }
    }

    #[test]
    fn pick_lists_candidates_or_closest_names() {
        let one = pick(&lookup(None), vec![row("a", None)], &[]).unwrap();
        assert_eq!(one.uid, "a");
        let two = vec![row("a", Some("p1")), row("b", Some("p2"))];
        let err = pick(&lookup(None), two, &[]).unwrap_err();
        assert!(
            err.message.contains("give projectName or clusterUid"),
            "{}",
            err.message
        );
        let help = err.help.unwrap();
        assert_eq!(help.candidates.len(), 2);
        assert_eq!(help.candidates[1].project_name.as_deref(), Some("name-p2"));
        assert_eq!(help.candidates[0].environment, "env0");
        let known = names(&["web-1", "db"]);
        let err = pick(&lookup(None), vec![], &known).unwrap_err();
        assert_eq!(err.code.as_str(), "not_found");
        assert_eq!(err.help.unwrap().did_you_mean, names(&["web-1"]));
    }

    #[test]
    fn a_project_narrows_a_name_to_its_own_object() {
        // The same name at tenant scope and in project p1: p1's wins when p1 is given.
        let rows = || vec![row("tenant", None), row("own", Some("p1"))];
        assert_eq!(pick(&lookup(Some("p1")), rows(), &[]).unwrap().uid, "own");
        // Another project has none of its own: still ambiguous, and the advice is a uid now.
        let err = pick(&lookup(Some("p2")), rows(), &[]).unwrap_err();
        assert!(err.message.contains("give the uid"), "{}", err.message);
        assert!(!err.message.contains("projectName"), "{}", err.message);
        // No project: both are candidates.
        assert_eq!(
            pick(&lookup(None), rows(), &[])
                .unwrap_err()
                .help
                .unwrap()
                .candidates
                .len(),
            2
        );
    }
}
