//! Palette's rate limits (as Palette documents them): which limit a path counts against,
//! and the documented limit of each. One pure function, shared by the simulator (which enforces
//! the limits) and the client (which paces itself under them), so the two never disagree.
//!
//! How a path maps to its prefix (query string and trailing `/` ignored):
//! - `/v1/spectroclusters/:uid/profiles...` → `/v1/spectroclusters/:uid/profiles` (50/s);
//! - `/v1/spectroclusters/:uid/assets...` → `/v1/spectroclusters/:uid/assets` (10/s: kubeconfigs);
//! - any other `/v1/spectroclusters...` → `/v1/spectroclusters` (50/s);
//! - `/v1/events/components...` → `/v1/events/components` (50/s);
//! - `/v1/auth/user/password/reset` → itself (2/s);
//! - everything else → `/v1/<first segment>` (`/v1/dashboard`, `/v1/clusterprofiles`,
//!   `/v1/cloudconfigs` at 50/s, the rest at 10/s): sub-resources count against their parent,
//!   so `/v1/dashboard/spectroclusters/meta` and `/v1/dashboard/projects` share one counter.
//!
//! A `:uid` prefix is one counter for every uid (the limit is per resource prefix, not per
//! object): the stricter reading, so a client that keeps to it is never throttled.

use serde::{Deserialize, Serialize};

/// A limit as Palette documents it: `rate` requests per second, with a burst queue of `burst`
/// (so at most `rate × burst` requests at once).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub rate: f64,
    #[serde(default = "default_burst")]
    pub burst: f64,
}

fn default_burst() -> f64 {
    5.0
}

impl Limit {
    pub const DEFAULT: Limit = Limit {
        rate: 10.0,
        burst: 5.0,
    };
    pub const HIGH_TRAFFIC: Limit = Limit {
        rate: 50.0,
        burst: 5.0,
    };

    /// Palette's maximum: requests it accepts at once from a rested client.
    pub fn max(&self) -> f64 {
        self.rate * self.burst
    }

    pub fn scaled(&self, factor: f64) -> Limit {
        Limit {
            rate: self.rate * factor,
            burst: self.burst,
        }
    }
}

/// The rate-limit prefix `path` counts against.
pub fn prefix(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["v1", "spectroclusters", _, "profiles", ..] => "/v1/spectroclusters/:uid/profiles".into(),
        ["v1", "spectroclusters", _, "assets", ..] => "/v1/spectroclusters/:uid/assets".into(),
        ["v1", "events", "components", ..] => "/v1/events/components".into(),
        ["v1", "auth", "user", "password", "reset"] => "/v1/auth/user/password/reset".into(),
        ["v1", first, ..] => format!("/v1/{first}"),
        [first, ..] => format!("/{first}"),
        [] => "/".into(),
    }
}

/// Palette's documented limit of a prefix.
pub fn documented(prefix: &str) -> Limit {
    match prefix {
        "/v1/spectroclusters"
        | "/v1/spectroclusters/:uid/profiles"
        | "/v1/clusterprofiles"
        | "/v1/cloudconfigs"
        | "/v1/events/components" => Limit::HIGH_TRAFFIC,
        "/v1/auth/user/password/reset" => Limit {
            rate: 2.0,
            burst: 5.0,
        },
        _ => Limit::DEFAULT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path the service calls (sync, live pass-through, read-through, creation, auth).
    #[test]
    fn every_path_the_service_calls_maps_to_its_documented_prefix() {
        let cases = [
            ("/v1/dashboard/projects", "/v1/dashboard", 10.0),
            ("/v1/dashboard/projects/metadata", "/v1/dashboard", 10.0),
            ("/v1/dashboard/spectroclusters/meta", "/v1/dashboard", 10.0),
            (
                "/v1/dashboard/spectroclusters/search?limit=50&continue=abc",
                "/v1/dashboard",
                10.0,
            ),
            (
                "/v1/dashboard/spectroclusters/abc123",
                "/v1/dashboard",
                10.0,
            ),
            (
                "/v1/dashboard/spectroclusters/abc123/overview",
                "/v1/dashboard",
                10.0,
            ),
            ("/v1/dashboard/clusterprofiles", "/v1/dashboard", 10.0),
            ("/v1/spectroclusters/abc123", "/v1/spectroclusters", 50.0),
            ("/v1/spectroclusters/eks", "/v1/spectroclusters", 50.0),
            ("/v1/spectroclusters/virtual", "/v1/spectroclusters", 50.0),
            (
                "/v1/spectroclusters/eks/validate",
                "/v1/spectroclusters",
                50.0,
            ),
            (
                "/v1/spectroclusters/abc/pack/manifests/m1",
                "/v1/spectroclusters",
                50.0,
            ),
            (
                "/v1/spectroclusters/abc/profiles",
                "/v1/spectroclusters/:uid/profiles",
                50.0,
            ),
            (
                "/v1/spectroclusters/abc/profiles?includePackMeta=schema",
                "/v1/spectroclusters/:uid/profiles",
                50.0,
            ),
            (
                "/v1/spectroclusters/abc/assets/kubeconfig",
                "/v1/spectroclusters/:uid/assets",
                10.0,
            ),
            (
                "/v1/spectroclusters/abc/assets/kubeconfigclient",
                "/v1/spectroclusters/:uid/assets",
                10.0,
            ),
            (
                "/v1/spectroclusters/abc/assets/adminKubeconfig",
                "/v1/spectroclusters/:uid/assets",
                10.0,
            ),
            ("/v1/clusterprofiles/p1", "/v1/clusterprofiles", 50.0),
            ("/v1/clusterprofiles/p1/packs", "/v1/clusterprofiles", 50.0),
            (
                "/v1/clusterprofiles/p1/variables",
                "/v1/clusterprofiles",
                50.0,
            ),
            (
                "/v1/clusterprofiles/p1/versions/v2",
                "/v1/clusterprofiles",
                50.0,
            ),
            (
                "/v1/cloudconfigs/eks/c1/machinePools",
                "/v1/cloudconfigs",
                50.0,
            ),
            ("/v1/events/components", "/v1/events/components", 50.0),
            (
                "/v1/events/components/spectrocluster/abc",
                "/v1/events/components",
                50.0,
            ),
            ("/v1/cloudaccounts/aws", "/v1/cloudaccounts", 10.0),
            (
                "/v1/cloudaccounts/vsphere/a1/properties/datacenters",
                "/v1/cloudaccounts",
                10.0,
            ),
            (
                "/v1/cloudaccounts/vsphere/a1/properties/computecluster/resources",
                "/v1/cloudaccounts",
                10.0,
            ),
            ("/v1/overlords", "/v1/overlords", 10.0),
            ("/v1/overlords/vsphere/o1/pools", "/v1/overlords", 10.0),
            ("/v1/clustergroups/hostCluster", "/v1/clustergroups", 10.0),
            ("/v1/clustergroups/g1", "/v1/clustergroups", 10.0),
            ("/v1/users/me", "/v1/users", 10.0),
            ("/v1/users/assets/sshkeys", "/v1/users", 10.0),
            ("/v1/projects/p1", "/v1/projects", 10.0),
            ("/v1/auth/refresh/tok", "/v1/auth", 10.0),
            (
                "/v1/auth/user/password/reset",
                "/v1/auth/user/password/reset",
                2.0,
            ),
            ("/v1/audits", "/v1/audits", 10.0),
            ("/v1/overlords/", "/v1/overlords", 10.0),
        ];
        for (path, want, rate) in cases {
            let p = prefix(path);
            assert_eq!(p, want, "{path}");
            assert_eq!(documented(&p).rate, rate, "{path}");
            assert_eq!(documented(&p).max(), rate * 5.0, "{path}");
        }
    }
}
