//! Details a person's read fetched from Palette while the mirror lists the cluster without
//! them (a cold sync still filling them in): written as the sync writes them — details,
//! health and version, reverse index, in one transaction — so the next read is local and the
//! sync, finding them, does not fetch them again.

use super::snapshot::{ClusterDetail, DetailWrite, write_cluster_details, write_cluster_index};
use super::{Db, now_text, writer};

/// Writes `d` as the details of cluster `uid`, if the mirror lists it (a cluster gone meanwhile
/// is not brought back). Returns whether it was written.
pub async fn cluster_details(
    db: &Db,
    env: &str,
    uid: &str,
    d: &ClusterDetail,
) -> Result<bool, sqlx::Error> {
    let now = now_text();
    let mut tx = writer::begin(db).await?;
    // The listing the cluster is mirrored with is the one these details are fresh for.
    let listed: Option<(String, String)> = on!(&mut tx, |c, dialect| {
        sqlx::query_as(sql!(
            dialect,
            "UPDATE clusters SET health = ?, kubernetes_version = ?, indexed = 1 \
             WHERE env = ? AND uid = ? RETURNING last_modified, state"
        ))
        .bind(&d.index.health)
        .bind(&d.index.kubernetes_version)
        .bind(env)
        .bind(uid)
        .fetch_optional(&mut *c)
        .await?
    });
    let Some((listed_modified, listed_state)) = listed else {
        return Ok(false);
    };
    let write = DetailWrite {
        uid,
        listed_modified: &listed_modified,
        listed_state: &listed_state,
        detail: d,
    };
    write_cluster_details(&mut tx, env, &[write], &now).await?;
    // Whatever index entries the cluster had go first, as for a cluster fetched again.
    write_cluster_index(&mut tx, env, &[(uid, &d.index)], &[uid]).await?;
    tx.commit().await?;
    Ok(true)
}

/// A cluster's stored details: (detail JSON, profiles JSON, when they were written).
#[derive(sqlx::FromRow)]
pub struct Stored {
    pub detail_json: String,
    pub profiles_json: String,
    pub synced_at: String,
}

pub async fn stored(db: &Db, env: &str, uid: &str) -> Result<Option<Stored>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as::<_, Stored>(sql!(
            d,
            "SELECT detail_json, profiles_json, synced_at FROM cluster_details WHERE env = ? AND uid = ?"
        ))
        .bind(env)
        .bind(uid)
        .fetch_optional(p)
        .await
    })
}
