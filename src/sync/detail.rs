//! A cluster's details as the mirror stores them, from Palette's two answers (dashboard
//! details, pack-level profiles) — one construction for the sync and for a person's read
//! that fetched them first — and the sync's check for details a read already wrote.

use serde_json::Value;

use super::index::{self, Interner};
use crate::store::enrich::{self, Stored};
use crate::store::snapshot::ClusterDetail;
use crate::store::{Db, snapshot::KnownCluster};

/// The stored form of a cluster's details (`profiles`: the profiles answer as text), its
/// templates shared through `interner`.
pub fn cluster_detail(
    detail: &Value,
    profiles_json: String,
    interner: &mut Interner,
) -> ClusterDetail {
    ClusterDetail {
        index: index::from_detail(detail, interner),
        detail_json: detail.to_string(),
        profiles_json,
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
    Some(cluster_detail(
        &detail,
        profiles_json,
        &mut Interner::default(),
    ))
}
