//! Private cloud gateways (vSphere overlords with IP pools), cloud accounts and SSH keys.

use rand::Rng;

use super::Gen;
use crate::data::{CloudAccount, IpPool, Overlord, Project, Scope, SshKey};

/// Two tenant-scoped vSphere gateways with two IP pools each; their accounts come later.
pub fn overlords(g: &mut Gen) -> Vec<Overlord> {
    (0..2)
        .map(|i| {
            let when = g.when();
            let meta = g.meta(format!("pcg-vsphere-{i}"), Scope::Tenant, when);
            let ip_pools = (0..2).map(|j| ip_pool(g, i, j)).collect();
            Overlord {
                meta,
                kind: "vsphere".into(),
                cloud_account_uid: String::new(),
                ip_address: format!("10.200.0.{}", 10 + i),
                ip_pools,
            }
        })
        .collect()
}

fn ip_pool(g: &mut Gen, i: usize, j: usize) -> IpPool {
    let when = g.when();
    IpPool {
        meta: g.meta(format!("pool-{i}-{j}"), Scope::Tenant, when),
        start: format!("10.{i}.{j}.10"),
        end: format!("10.{i}.{j}.200"),
        subnet: format!("10.{i}.{j}.0/24"),
        prefix: 24,
        gateway: format!("10.{i}.{j}.1"),
    }
}

/// Per cloud, two tenant-scoped accounts and some project-scoped ones; the first vSphere
/// accounts are the gateways' own.
pub fn cloud_accounts(
    g: &mut Gen,
    projects: &[Project],
    overlords: &mut [Overlord],
) -> Vec<CloudAccount> {
    let per_cloud = 2 + projects.len() / 2;
    let mut cloud_accounts = Vec::new();
    for cloud in ["aws", "azure", "vsphere"] {
        for i in 0..per_cloud {
            let when = g.when();
            let scope = if i < 2 {
                Scope::Tenant
            } else {
                Scope::Project(projects[(i - 2) % projects.len()].meta.uid.clone())
            };
            let overlord_uid =
                (cloud == "vsphere").then(|| overlords[i % overlords.len()].meta.uid.clone());
            let acct = CloudAccount {
                meta: g.meta(format!("{cloud}-{}-{i}", scope.name()), scope, when),
                cloud_type: cloud.to_string(),
                overlord_uid,
            };
            if cloud == "vsphere" && i < overlords.len() {
                overlords[i].cloud_account_uid = acct.meta.uid.clone();
            }
            cloud_accounts.push(acct);
        }
    }
    cloud_accounts
}

/// Three tenant keys and one per project.
pub fn ssh_keys(g: &mut Gen, projects: &[Project]) -> Vec<SshKey> {
    (0..3 + projects.len())
        .map(|i| {
            let when = g.when();
            let scope = if i < 3 {
                Scope::Tenant
            } else {
                Scope::Project(projects[i - 3].meta.uid.clone())
            };
            let key: [u8; 24] = g.rng.random();
            SshKey {
                meta: g.meta(format!("ssh-key-{i}"), scope, when),
                public_key: format!(
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5{} sim-{i}",
                    hex::encode(key)
                ),
            }
        })
        .collect()
}
