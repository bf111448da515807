//! The webhook outbox (`webhook_outbox`, `webhook_cursor`): batches handed over by the
//! notifier together with its cursor, claimed one at a time by a delivery task (a
//! compare-and-set on `claimed_until`, so several processes — replicas, on PostgreSQL — never
//! send one row at once), deleted once delivered or given up.

use super::Db;

/// A batch for one webhook.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub msg_id: String,
    pub hook: String,
    pub body: String,
    pub events: i64,
}

/// A claimed delivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub seq: i64,
    pub msg_id: String,
    pub body: String,
    pub events: i64,
    pub attempts: i64,
    /// The claim this process holds: what it wrote, so it only ever ends its own claim.
    pub claimed_until: i64,
}

/// The oldest row of a hook, with when it is due and until when someone holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Head {
    pub seq: i64,
    pub next_attempt_at: i64,
    pub claimed_until: Option<i64>,
}

/// The notifier's cursor: the last event id handed to the outbox, if any yet.
pub async fn cursor(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_scalar(sql!(
            d,
            "SELECT last_event_id FROM webhook_cursor WHERE id = 1"
        ))
        .fetch_optional(p)
        .await
    })
}

/// What [`enqueue`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Enqueued {
    /// False when the cursor was no longer `from`: another process handed this range over.
    pub moved: bool,
    /// Per hook, the oldest batches dropped to keep it at `max_rows`.
    pub dropped: Vec<(String, u64)>,
}

/// In one transaction: moves the cursor from `from` to `to` (compare-and-set), stores the
/// batches, and drops each touched hook's oldest rows beyond `max_rows`.
pub async fn enqueue(
    db: &Db,
    from: Option<i64>,
    to: i64,
    batches: &[NewDelivery],
    now_ms: i64,
    max_rows: usize,
) -> Result<Enqueued, sqlx::Error> {
    let mut tx = super::writer::begin_bookkeeping(db).await?;
    let mut hooks: Vec<&str> = batches.iter().map(|b| b.hook.as_str()).collect();
    hooks.sort_unstable();
    hooks.dedup();
    let (moved, dropped) = on!(&mut tx, |c, d| {
        let moved = match from {
            None => sqlx::query(sql!(
                d,
                "INSERT INTO webhook_cursor (id, last_event_id) VALUES (1, ?) ON CONFLICT (id) DO NOTHING"
            ))
            .bind(to),
            Some(f) => sqlx::query(sql!(
                d,
                "UPDATE webhook_cursor SET last_event_id = ? WHERE id = 1 AND last_event_id = ?"
            ))
            .bind(to)
            .bind(f),
        }
        .execute(&mut *c)
        .await?
        .rows_affected()
            > 0;
        if !moved {
            return Ok(Enqueued::default());
        }
        for b in batches {
            sqlx::query(sql!(
                d,
                "INSERT INTO webhook_outbox (msg_id, hook, body, events, next_attempt_at, created_at)
                 VALUES (?, ?, ?, ?, ?, ?)"
            ))
            .bind(&b.msg_id)
            .bind(&b.hook)
            .bind(&b.body)
            .bind(b.events)
            .bind(now_ms)
            .bind(now_ms)
            .execute(&mut *c)
            .await?;
        }
        let mut dropped = Vec::new();
        for hook in &hooks {
            let n = sqlx::query(sql!(
                d,
                "DELETE FROM webhook_outbox WHERE hook = ? AND seq NOT IN
                   (SELECT seq FROM webhook_outbox WHERE hook = ? ORDER BY seq DESC LIMIT ?)"
            ))
            .bind(*hook)
            .bind(*hook)
            .bind(i64::try_from(max_rows).unwrap_or(i64::MAX))
            .execute(&mut *c)
            .await?
            .rows_affected();
            if n > 0 {
                dropped.push((hook.to_string(), n));
            }
        }
        (moved, dropped)
    });
    tx.commit().await?;
    Ok(Enqueued { moved, dropped })
}

/// The hook's oldest row, claimed or not: batches go out oldest first, one at a time, so a
/// row another process is sending holds the later ones back.
pub async fn head(db: &Db, hook: &str) -> Result<Option<Head>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as(sql!(
            d,
            "SELECT seq, next_attempt_at, claimed_until FROM webhook_outbox
             WHERE hook = ? ORDER BY seq LIMIT 1"
        ))
        .bind(hook)
        .fetch_optional(p)
        .await
    })
}

/// Claims row `seq` for `claim_ms` unless someone else holds a live claim on it; the row when
/// this call won it. The time is the database's, so replicas whose clocks disagree still never
/// take each other's live claims. On PostgreSQL a row another replica is claiming this very
/// moment is skipped (`SKIP LOCKED`), not waited for: it is that replica's.
pub async fn claim(db: &Db, seq: i64, claim_ms: i64) -> Result<Option<Delivery>, sqlx::Error> {
    write!(db, |p, d| {
        sqlx::query_as(sql!(
            d,
            sqlite: "UPDATE webhook_outbox
             SET claimed_until = CAST(unixepoch('subsec') * 1000 AS INTEGER) + ?
             WHERE seq = ?
               AND (claimed_until IS NULL OR claimed_until < CAST(unixepoch('subsec') * 1000 AS INTEGER))
             RETURNING seq, msg_id, body, events, attempts, claimed_until",
            postgres: "UPDATE webhook_outbox
             SET claimed_until = CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) + ?
             WHERE seq = (SELECT seq FROM webhook_outbox WHERE seq = ?
                 AND (claimed_until IS NULL
                      OR claimed_until < CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT))
                 FOR UPDATE SKIP LOCKED)
             RETURNING seq, msg_id, body, events, attempts, claimed_until"
        ))
        .bind(claim_ms)
        .bind(seq)
        .fetch_optional(p)
        .await
    })
}

// Each of the three below ends only the claim `row` holds (`claimed_until` as written): a
// sender whose claim lapsed and was taken over changes nothing. False when it was not ours.

/// A delivered or given-up row leaves the outbox.
pub async fn remove(db: &Db, row: &Delivery) -> Result<bool, sqlx::Error> {
    let n = write!(db, |p, d| {
        sqlx::query(sql!(
            d,
            "DELETE FROM webhook_outbox WHERE seq = ? AND claimed_until = ?"
        ))
        .bind(row.seq)
        .bind(row.claimed_until)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// A failed attempt: counted, the claim released, the next attempt at `next_ms`.
pub async fn retry_later(
    db: &Db,
    row: &Delivery,
    next_ms: i64,
    error: &str,
) -> Result<bool, sqlx::Error> {
    let n = write!(db, |p, d| {
        sqlx::query(sql!(
            d,
            "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = ?,
                    claimed_until = NULL, last_error = ? WHERE seq = ? AND claimed_until = ?"
        ))
        .bind(next_ms)
        .bind(error)
        .bind(row.seq)
        .bind(row.claimed_until)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Releases a claim without counting an attempt (the sender is stopping).
pub async fn release(db: &Db, row: &Delivery) -> Result<bool, sqlx::Error> {
    let n = write!(db, |p, d| {
        sqlx::query(sql!(
            d,
            "UPDATE webhook_outbox SET claimed_until = NULL WHERE seq = ? AND claimed_until = ?"
        ))
        .bind(row.seq)
        .bind(row.claimed_until)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// Drops the rows of webhooks no longer configured; returns how many.
pub async fn forget_other_hooks(db: &Db, hooks: &[String]) -> Result<u64, sqlx::Error> {
    let keep = serde_json::to_string(hooks).unwrap_or_else(|_| "[]".into());
    write!(db, |p, d| {
        sqlx::query(sql!(
            d,
            "DELETE FROM webhook_outbox WHERE hook NOT IN (SELECT value FROM json_each(?))"
        ))
        .bind(&keep)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
    })
}
