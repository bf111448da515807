//! Cluster profiles: the first five are tenant infra profiles, one per cloud, so every cluster
//! can find one; two add-on profiles share a name across tenant and project scope.

use std::collections::HashMap;

use chrono::Duration;
use rand::Rng;

use super::Gen;
use crate::data::{
    ADDON_PROFILE_NAMES, ADDONS, CLOUDS, Profile, ProfileVersion, Project, Scope, Sizes, new_uid,
    packs_for, pick, profile_variables, version_string,
};

/// What a profile is before its versions: type, cloud, scope and base name.
type Kind = (&'static str, String, Scope, String);

pub fn profiles(g: &mut Gen, sizes: &Sizes, projects: &[Project], registry: &str) -> Vec<Profile> {
    let mut profiles = Vec::with_capacity(sizes.profiles);
    let mut name_counts: HashMap<(String, Scope), usize> = HashMap::new();
    for p in 0..sizes.profiles.max(CLOUDS.len() + 2) {
        let (profile_type, cloud, scope, base_name) = kind(g, p, projects);
        let count = name_counts
            .entry((base_name.clone(), scope.clone()))
            .or_insert(0);
        *count += 1;
        let name = if *count == 1 {
            base_name
        } else {
            format!("{base_name}-{count}")
        };
        let addons = addons(g, profile_type);
        let versions = versions(g, sizes, profile_type, &cloud, &addons, registry);
        profiles.push(Profile {
            name,
            scope,
            profile_type: profile_type.to_string(),
            cloud_type: cloud,
            addons,
            versions,
        });
    }
    profiles
}

fn kind(g: &mut Gen, p: usize, projects: &[Project]) -> Kind {
    if let Some(c) = CLOUDS.get(p).copied() {
        return ("infra", c.to_string(), Scope::Tenant, format!("{c}-infra"));
    }
    if p == CLOUDS.len() {
        return (
            "add-on",
            "all".into(),
            Scope::Tenant,
            "shared-addons".into(),
        );
    }
    if p == CLOUDS.len() + 1 {
        let scope = Scope::Project(projects[0].meta.uid.clone());
        return ("add-on", "all".into(), scope, "shared-addons".into());
    }
    let roll: f64 = g.rng.random();
    let scope = if g.rng.random_bool(0.35) {
        Scope::Tenant
    } else {
        g.project_scope(projects)
    };
    if roll < 0.4 {
        let c = *pick(&mut g.rng, &CLOUDS);
        ("infra", c.to_string(), scope, format!("{c}-infra"))
    } else if roll < 0.6 {
        let c = *pick(&mut g.rng, &CLOUDS);
        ("cluster", c.to_string(), scope, format!("{c}-full-stack"))
    } else {
        let n = *pick(&mut g.rng, ADDON_PROFILE_NAMES);
        ("add-on", "all".into(), scope, format!("{n}-addons"))
    }
}

/// Indexes into `ADDONS`, sorted and distinct.
fn addons(g: &mut Gen, profile_type: &str) -> Vec<usize> {
    let rng = &mut g.rng;
    let mut addons: Vec<usize> = match profile_type {
        "infra" => vec![],
        "cluster" => vec![rng.random_range(0..ADDONS.len())],
        _ => {
            let n = rng.random_range(1..=3);
            (0..n).map(|_| rng.random_range(0..ADDONS.len())).collect()
        }
    };
    addons.sort_unstable();
    addons.dedup();
    addons
}

/// Versions published one after another, each a few hours in the making.
fn versions(
    g: &mut Gen,
    sizes: &Sizes,
    profile_type: &str,
    cloud: &str,
    addons: &[usize],
    registry: &str,
) -> Vec<ProfileVersion> {
    let (mut created, _) = g.when();
    let rng = &mut g.rng;
    (0..sizes.versions_per_profile.max(1))
        .map(|v| {
            let modified = created + Duration::hours(rng.random_range(1..48));
            let pv = ProfileVersion {
                uid: new_uid(rng),
                version: version_string(v),
                packs: packs_for(rng, profile_type, cloud, addons, v, registry),
                variables: profile_variables(profile_type),
                created,
                modified,
            };
            created = modified + Duration::days(rng.random_range(1..20));
            pv
        })
        .collect()
}
