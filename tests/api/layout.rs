//! The direction of dependencies in `src/`, read from the source: nothing but the command line
//! imports the composition root, and no two top-level modules depend on each other, directly
//! or around a circle (ARCHITECTURE.md, "Code map").

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    // Read at run time (cargo sets it), so the check can be pointed at another checkout.
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or(env!("CARGO_MANIFEST_DIR").into());
    Path::new(&root).join("src")
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// A file's code before its unit tests (they may reach anywhere).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The names of the `crate::<name>` paths in `text`.
fn crate_paths(text: &str) -> BTreeSet<String> {
    text.match_indices("crate::")
        .filter(|(i, _)| {
            // `spectrocloud_backend::` and `$crate::` are not this crate's own paths here.
            !text[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$')
        })
        .map(|(i, m)| {
            text[i + m.len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                .collect()
        })
        .collect()
}

/// The top-level modules of the library (the simulator aside: it is not the service) and the
/// other top-level modules each one names.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = src();
    let mut tops = BTreeMap::new();
    for e in std::fs::read_dir(&root)
        .expect("src/ is readable")
        .flatten()
    {
        let p = e.path();
        let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if ["lib", "main", "bin", "sim"].contains(&name) {
            continue;
        }
        let files: &mut Vec<PathBuf> = tops.entry(name.to_string()).or_default();
        if p.is_dir() {
            files.extend(rust_files(&p));
        } else {
            files.push(p.clone());
        }
    }
    let names: BTreeSet<String> = tops.keys().cloned().collect();
    tops.into_iter()
        .map(|(name, files)| {
            let deps = files
                .iter()
                .flat_map(|f| crate_paths(&code(f)))
                .filter(|d| *d != name && names.contains(d))
                .collect();
            (name, deps)
        })
        .collect()
}

#[test]
fn only_the_command_line_imports_the_composition_root() {
    let importers: Vec<String> = module_graph()
        .into_iter()
        .filter(|(_, deps)| deps.contains("app"))
        .map(|(name, _)| name)
        .collect();
    assert!(
        importers.is_empty(),
        "these modules import the composition root `app` (move what they need into its own module): {importers:?}"
    );
}

#[test]
fn top_level_modules_form_no_circle() {
    let graph = module_graph();
    // Depth-first from each module: a path back to the start is a circle.
    for start in graph.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, path)) = stack.pop() {
            for next in graph.get(&at).into_iter().flatten() {
                if next == start {
                    panic!("dependency circle: {} -> {start}", path.join(" -> "));
                }
                if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
}
