//! The docs hold together: every relative link in README.md, ARCHITECTURE.md and docs/*.md
//! names an existing file and, in a Markdown file, an existing heading (GitHub's anchors), and
//! every chapter is on the map. Read from the files alone; no server.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, ARCHITECTURE.md and the chapters under docs/.
fn doc_files() -> Vec<PathBuf> {
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("a readable docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    chapters.sort();
    let mut files = vec![root().join("README.md"), root().join("ARCHITECTURE.md")];
    files.extend(chapters);
    files
}

fn is_fence(line: &str) -> bool {
    line.trim_start().starts_with("```")
}

/// Lines outside fenced blocks, inline code removed: a link shown as code is an example.
fn prose(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if is_fence(line) {
            fenced = !fenced;
        } else if !fenced {
            // Between backticks is code: keep the even pieces.
            out.push(line.split('`').step_by(2).collect::<String>());
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown text's headings; a repeated heading gets `-1`, `-2`, ...
fn anchors(text: &str) -> HashSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = HashSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if is_fence(line) {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let level = line.chars().take_while(|&c| c == '#').count();
        let Some(title) = line[level..].strip_prefix(' ') else {
            continue;
        };
        if !(1..=6).contains(&level) {
            continue;
        }
        let base = slug(title);
        let n = seen.entry(base.clone()).or_insert(0);
        out.insert(if *n == 0 { base } else { format!("{base}-{n}") });
        *n += 1;
    }
    out
}

/// The targets of the `[text](target)` links in a line.
fn targets(line: &str) -> Vec<&str> {
    line.match_indices("](")
        .filter_map(|(i, _)| {
            let rest = &line[i + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace))
        .collect()
}

/// `https:`, `mailto:` and the like: not ours to check.
fn is_external(target: &str) -> bool {
    target.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphabetic())
    })
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in doc_files() {
        let text = std::fs::read_to_string(&file).expect("a readable doc");
        for line in prose(&text) {
            for target in targets(&line).into_iter().filter(|t| !is_external(t)) {
                checked += 1;
                let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
                let dest = match path {
                    "" => file.clone(),
                    _ => file.parent().expect("a doc has a folder").join(path),
                };
                let markdown = dest.extension().is_some_and(|x| x == "md");
                let resolves = dest.exists()
                    && (anchor.is_empty()
                        || !markdown
                        || anchors(&std::fs::read_to_string(&dest).expect("readable"))
                            .contains(anchor));
                if !resolves {
                    let name = file.strip_prefix(root()).unwrap_or(file.as_path());
                    broken.push(format!("{}: {target}", name.display()));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links that lead nowhere:\n{}",
        broken.join("\n")
    );
    // Guards the pattern itself: the docs link to each other far more than this.
    assert!(checked > 50, "only {checked} relative links found");
}

#[test]
fn every_chapter_is_on_the_map() {
    let read = |p: &str| std::fs::read_to_string(root().join(p)).expect(p);
    let map = read("docs/README.md");
    assert!(
        read("README.md").contains("](docs/README.md)"),
        "README.md links to docs/README.md"
    );
    for file in doc_files() {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a file name");
        let chapter = file.parent() == Some(root().join("docs").as_path());
        if chapter && name != "README.md" {
            assert!(
                map.contains(&format!("]({name})")),
                "docs/README.md does not list {name}"
            );
        }
    }
}

#[test]
fn anchors_are_githubs() {
    assert_eq!(
        slug("Pacing: Palette's rate limits"),
        "pacing-palettes-rate-limits"
    );
    let t = anchors("# A `b` (c)\n```\n# not a heading\n```\n## A b c\n#nope\n");
    let want: HashSet<String> = ["a-b-c", "a-b-c-1"].map(String::from).into();
    assert_eq!(t, want);
}
