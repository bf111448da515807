//! Projects: the first six carry familiar names, the rest `team-NN`.

use super::Gen;
use crate::data::{Project, Scope};

const NAMES: [&str; 6] = ["Default", "payments", "data-platform", "edge", "ml", "web"];

pub fn projects(g: &mut Gen, count: usize) -> Vec<Project> {
    (0..count)
        .map(|i| {
            let when = g.when();
            let name = match NAMES.get(i) {
                Some(n) => n.to_string(),
                None => format!("team-{i:02}"),
            };
            Project {
                meta: g.meta(name, Scope::Tenant, when),
                description: format!("Simulated project {i}"),
            }
        })
        .collect()
}
