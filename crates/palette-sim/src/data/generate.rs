//! The deterministic generator, one module per entity. Every step draws from one random
//! source in a fixed order: moving a draw changes every uid after it, so the order of the
//! steps in [`SimData::generate`] and of the draws inside each is part of the data.

pub(super) mod accounts;
pub(super) mod clusters;
pub(super) mod groups;
pub(super) mod profiles;
pub(super) mod projects;
pub(super) mod users;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Meta, Project, Scope, pick};

/// The random source and the epoch every timestamp is drawn from.
pub(super) struct Gen {
    pub rng: ChaCha8Rng,
    base: DateTime<Utc>,
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: ChaCha8Rng::seed_from_u64(seed),
            base: Utc
                .with_ymd_and_hms(2026, 1, 5, 8, 0, 0)
                .single()
                .unwrap_or_else(Utc::now),
        }
    }

    /// A (created, modified) pair within 200 days of the epoch.
    pub fn when(&mut self) -> (DateTime<Utc>, DateTime<Utc>) {
        let created = self.base + Duration::seconds(self.rng.random_range(0..200 * 86_400));
        let modified = created + Duration::seconds(self.rng.random_range(0..10 * 86_400));
        (created, modified)
    }

    /// A fresh uid (drawn after the timestamps, as every entity does).
    pub fn meta(
        &mut self,
        name: String,
        scope: Scope,
        (created, modified): (DateTime<Utc>, DateTime<Utc>),
    ) -> Meta {
        Meta {
            uid: super::new_uid(&mut self.rng),
            name,
            scope,
            created,
            modified,
        }
    }

    /// One of the projects, as a scope.
    pub fn project_scope(&mut self, projects: &[Project]) -> Scope {
        Scope::Project(pick(&mut self.rng, projects).meta.uid.clone())
    }
}
