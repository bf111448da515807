//! A cluster's details as the mirror stores them, from Palette's two answers (dashboard
//! details, pack-level profiles) — one construction for the sync and for a person's read
//! that fetched them first — and the sync's check for details a read already wrote.

use serde_json::Value;

use crate::palette::models;
use crate::store::enrich::{self, Stored};
use crate::store::snapshot::{ClusterDetail, ClusterPack, ProfileRef};
use crate::store::{Db, snapshot::KnownCluster};

/// The stored form of a cluster's details (`profiles`: the profiles answer as text).
pub fn cluster_detail(detail: &Value, profiles_json: String) -> ClusterDetail {
    let templates = models::cluster_templates(detail);
    let mut refs = Vec::new();
    let mut packs = Vec::new();
    for t in &templates {
        refs.push(ProfileRef {
            version_uid: t.version_uid.to_string(),
            name: t.name.to_string(),
            version: t.version.clone(),
            profile_type: t.profile_type.to_string(),
        });
        for p in &t.packs {
            packs.push(ClusterPack {
                version_uid: t.version_uid.to_string(),
                name: p.name.to_string(),
                tag: p.tag.to_string(),
                version: p.version.to_string(),
                layer: p.layer.to_string(),
            });
        }
    }
    ClusterDetail {
        health: models::health(detail).map(str::to_string),
        kubernetes_version: models::kubernetes_version(detail).map(str::to_string),
        detail_json: detail.to_string(),
        profiles_json,
        refs,
        packs,
    }
}

/// Details of `uid` written since the run began (a person's read fetched them ahead of the
/// sync), so the run takes them instead of asking Palette again; `None` otherwise, also
/// when the mirror cannot be read (the run then fetches as usual).
pub async fn written_meanwhile(
    db: &Db,
    env: &str,
    uid: &str,
    known: Option<&KnownCluster>,
) -> Option<ClusterDetail> {
    let stored = match enrich::stored(db, env, uid).await {
        Ok(s) => s?,
        Err(e) => {
            tracing::debug!(env, uid, error = %e, "cannot read stored details; fetching");
            return None;
        }
    };
    let Stored {
        detail_json,
        profiles_json,
        synced_at,
    } = stored;
    // What the run began with is what it means to replace.
    if known.and_then(|k| k.detail_at.as_deref()) == Some(synced_at.as_str()) {
        return None;
    }
    let detail: Value = serde_json::from_str(&detail_json).ok()?;
    Some(cluster_detail(&detail, profiles_json))
}
