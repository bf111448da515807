//! Palette users: an admin, a user of one project, one with tenant cluster rights, and one
//! with nothing.

use super::Gen;
use crate::data::{Project, SimUser, new_uid};

/// The simulated tenant's name (users' email domains say it).
pub const TENANT: &str = "acme";

/// What a project member may do in the projects they belong to.
const PROJECT_PERMS: [&str; 6] = [
    "cluster.list",
    "cluster.get",
    "cluster.create",
    "clusterProfile.list",
    "clusterProfile.get",
    "cloudaccount.list",
];

/// What the admin may do across the tenant besides `PROJECT_PERMS`.
const TENANT_EXTRA_PERMS: [&str; 5] = [
    "cloudaccount.get",
    "virtualCluster.list",
    "virtualCluster.get",
    "clusterGroup.list",
    "clusterGroup.get",
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `who` is (email's local part, first name).
fn user(
    g: &mut Gen,
    (local, first): (&str, &str),
    admin: bool,
    projects: Vec<String>,
    tenant: &[&str],
) -> SimUser {
    SimUser {
        uid: new_uid(&mut g.rng),
        email: format!("{local}@{TENANT}.example"),
        first_name: first.to_string(),
        last_name: "Sim".to_string(),
        admin,
        project_uids: projects,
        project_permissions: strings(&PROJECT_PERMS),
        tenant_permissions: strings(tenant),
    }
}

pub fn users(g: &mut Gen, projects: &[Project]) -> Vec<SimUser> {
    let all: Vec<String> = projects.iter().map(|p| p.meta.uid.clone()).collect();
    vec![
        user(
            g,
            ("admin", "Ada"),
            true,
            all.clone(),
            &[PROJECT_PERMS.as_slice(), &TENANT_EXTRA_PERMS].concat(),
        ),
        user(g, ("alice", "Alice"), false, vec![all[0].clone()], &[]),
        user(
            g,
            ("bob", "Bob"),
            false,
            all.iter().skip(1).cloned().collect(),
            &["cluster.list", "cluster.get"],
        ),
        user(g, ("carol", "Carol"), false, vec![], &[]),
    ]
}
