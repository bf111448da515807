//! Deletions held back by the sync's mass-deletion guard (`sync::guard`), per environment
//! and kind, until a second listing confirms them.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::Db;
use super::writer::WriteTx;

/// One kind's held deletions, as `/sync/status` shows them.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    pub kind: String,
    /// Objects the listing no longer had.
    pub absent: usize,
    /// Objects of the kind the mirror held.
    pub known: i64,
    pub run_id: i64,
    pub held_at: String,
    #[serde(skip)]
    pub uids: BTreeSet<String>,
}

#[derive(sqlx::FromRow)]
struct HeldRow {
    kind: String,
    /// JSON array of the absent uids.
    uids: String,
    known: i64,
    run_id: i64,
    held_at: String,
}

/// Every kind held back in `env`, by kind.
pub async fn of(db: &Db, env: &str) -> Result<HashMap<String, Held>, sqlx::Error> {
    let rows = read!(db, |p, d| {
        sqlx::query_as::<_, HeldRow>(sql!(
            d,
            "SELECT kind, uids, known, run_id, held_at FROM held_deletions WHERE env = ? ORDER BY kind"
        ))
        .bind(env)
        .fetch_all(p)
        .await
    })?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let uids: BTreeSet<String> = serde_json::from_str(&r.uids).unwrap_or_default();
            let held = Held {
                kind: r.kind,
                absent: uids.len(),
                known: r.known,
                run_id: r.run_id,
                held_at: r.held_at,
                uids,
            };
            (held.kind.clone(), held)
        })
        .collect())
}

/// Every kind held back in `env`, for display.
pub async fn list(db: &Db, env: &str) -> Result<Vec<Held>, sqlx::Error> {
    let mut held: Vec<Held> = of(db, env).await?.into_values().collect();
    held.sort_by(|a, b| a.kind.cmp(&b.kind));
    Ok(held)
}

/// Records (or replaces) the held deletions of one kind, in a write of the run holding them.
pub async fn hold_in(
    tx: &mut WriteTx,
    env: &str,
    kind: &str,
    uids: &BTreeSet<String>,
    known: usize,
    run_id: i64,
) -> Result<(), sqlx::Error> {
    let text = serde_json::to_string(uids).unwrap_or_else(|_| "[]".into());
    on!(tx, |c, d| {
        sqlx::query(sql!(
            d,
            "INSERT INTO held_deletions (env, kind, uids, known, run_id, held_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (env, kind) DO UPDATE SET uids = excluded.uids, known = excluded.known,
                run_id = excluded.run_id, held_at = excluded.held_at"
        ))
        .bind(env)
        .bind(kind)
        .bind(&text)
        .bind(known as i64)
        .bind(run_id)
        .bind(super::now_text())
        .execute(&mut *c)
        .await
        .map(drop)
    })
}

/// Forgets what was held for one kind (confirmed, or listed again).
pub async fn clear_in(tx: &mut WriteTx, env: &str, kind: &str) -> Result<(), sqlx::Error> {
    on!(tx, |c, d| {
        sqlx::query(sql!(
            d,
            "DELETE FROM held_deletions WHERE env = ? AND kind = ?"
        ))
        .bind(env)
        .bind(kind)
        .execute(&mut *c)
        .await
        .map(drop)
    })
}
