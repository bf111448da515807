//! Leases (`sync_leases`): one holder at a time per key — an environment's sync, or a piece of
//! shared upkeep ([`MAINTENANCE`]) — across every process on the database. Times are the
//! database's clock in milliseconds, so the replicas' clocks need not agree. Every claim
//! raises the lease's ticket; every write transaction of a run first checks and extends its
//! own ticket's lease (the fence), so a leader that lost its lease never overwrites a newer run.

use super::Db;
use super::writer::{self, WriteTx};

/// `sql!` for a lease query from literal parts, where `now` stands for the database's clock in
/// milliseconds and `for_update` locks the row read on PostgreSQL (SQLite's `BEGIN IMMEDIATE`
/// already holds the whole database).
macro_rules! lease_sql {
    (@sqlite now) => {
        "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
    };
    (@postgres now) => {
        "CAST(extract(epoch from clock_timestamp()) * 1000 AS BIGINT)"
    };
    (@sqlite for_update) => {
        ""
    };
    (@postgres for_update) => {
        " FOR UPDATE"
    };
    (@$backend:ident $text:literal) => {
        $text
    };
    ($d:expr, $($part:tt),+ $(,)?) => {
        sql!(
            $d,
            sqlite: concat!($(lease_sql!(@sqlite $part)),+),
            postgres: concat!($(lease_sql!(@postgres $part)),+)
        )
    };
}

/// The lease shared upkeep (pruning history, the audit log, daily aggregates) runs under: no
/// environment is named so (names are letters, digits, `-`, `_` and `.`).
pub const MAINTENANCE: &str = "#maintenance";

/// A lease as stored, with the database's clock when it was read.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LeaseRow {
    /// The replica that holds or last held it; empty when nobody ever did.
    pub holder: String,
    pub ticket: i64,
    pub expires_at_ms: i64,
    pub now_ms: i64,
}

impl LeaseRow {
    /// Nobody holds it: never claimed, released, or expired.
    pub fn vacant(&self) -> bool {
        self.holder.is_empty() || self.expires_at_ms <= self.now_ms
    }
}

/// Who holds a lease, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    pub holder: String,
    pub expires_at_ms: i64,
}

impl Leader {
    /// The expiry as RFC 3339 (UTC, milliseconds), as every time the service shows.
    pub fn expires_at(&self) -> String {
        chrono::DateTime::from_timestamp_millis(self.expires_at_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

/// A lease this process holds: what fences its writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub key: String,
    pub holder: String,
    pub ticket: i64,
    /// How long each claim, renewal and fenced write extends it.
    pub ttl_ms: i64,
}

/// What a claim decides on the lease as it stands: the compare of compare-and-set (pure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Free, expired or already the claimant's: take it. `previous` held it last (the one
    /// whose unfinished run a takeover names).
    Take { previous: Option<String> },
    /// Another holder's lease is still valid.
    Refuse(Leader),
}

pub fn decide(row: Option<&LeaseRow>, me: &str) -> Decision {
    match row {
        None => Decision::Take { previous: None },
        Some(r) if r.vacant() || r.holder == me => Decision::Take {
            previous: (!r.holder.is_empty()).then(|| r.holder.clone()),
        },
        Some(r) => Decision::Refuse(Leader {
            holder: r.holder.clone(),
            expires_at_ms: r.expires_at_ms,
        }),
    }
}

/// What a claim got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Taken {
        lease: Lease,
        previous: Option<String>,
    },
    Held(Leader),
}

/// A write refused because its run's lease is no longer its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", match &self.to {
    Some(h) => format!("lease lost to `{h}`"),
    None => "lease lost: it expired before it was renewed".to_string(),
})]
pub struct Lost {
    /// The replica holding it now; `None` while nobody does.
    pub to: Option<String>,
}

impl Lost {
    /// Why `lease` no longer holds, from the row as it stands.
    pub fn of(row: Option<&LeaseRow>, lease: &Lease) -> Lost {
        let to = row
            .filter(|r| !r.vacant() && r.ticket != lease.ticket)
            .map(|r| r.holder.clone());
        Lost { to }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    #[error(transparent)]
    Lost(#[from] Lost),
    #[error(transparent)]
    Store(#[from] sqlx::Error),
}

/// Claims `key` for `holder` for `ttl_ms` inside the caller's transaction: taken when nobody
/// holds it, it expired, or `holder` already does; the ticket goes up by one either way. The
/// row stays locked until the transaction ends, so what the claim is for is recorded with it.
pub async fn claim_in(
    tx: &mut WriteTx,
    key: &str,
    holder: &str,
    ttl_ms: i64,
) -> Result<Claim, sqlx::Error> {
    let row = lock_in(tx, key).await?;
    let previous = match decide(row.as_ref(), holder) {
        Decision::Take { previous } => previous,
        Decision::Refuse(leader) => return Ok(Claim::Held(leader)),
    };
    Ok(match take_in(tx, key, holder, ttl_ms).await? {
        Some(lease) => Claim::Taken { lease, previous },
        // The row changed since it was decided on (not while it is locked).
        None => Claim::Held(Leader {
            holder: row.map(|r| r.holder).unwrap_or_default(),
            expires_at_ms: 0,
        }),
    })
}

/// The lease of `key` as it stands, locked until the transaction ends (SQLite's `BEGIN
/// IMMEDIATE` holds the whole database; PostgreSQL locks the row). Decide on it with
/// [`decide`], then [`take_in`].
pub async fn lock_in(tx: &mut WriteTx, key: &str) -> Result<Option<LeaseRow>, sqlx::Error> {
    // A row to lock, so two first claims serialise like any other.
    on!(tx, |c, d| {
        sqlx::query(sql!(
            d,
            sqlite: "INSERT OR IGNORE INTO sync_leases (env, holder, ticket, expires_at_ms) VALUES (?, '', 0, 0)",
            postgres: "INSERT INTO sync_leases (env, holder, ticket, expires_at_ms) VALUES (?, '', 0, 0) ON CONFLICT DO NOTHING"
        ))
        .bind(key)
        .execute(&mut *c)
        .await
        .map(drop)
    })?;
    on!(tx, |c, d| {
        sqlx::query_as(lease_sql!(
            d,
            "SELECT holder, ticket, expires_at_ms, ",
            now,
            " AS now_ms FROM sync_leases WHERE env = ?",
            for_update
        ))
        .bind(key)
        .fetch_optional(&mut *c)
        .await
    })
}

/// Takes the lease [`decide`] gave `holder`, by compare-and-set: the set happens only where
/// the decision holds (`None` otherwise), and raises the ticket.
pub async fn take_in(
    tx: &mut WriteTx,
    key: &str,
    holder: &str,
    ttl_ms: i64,
) -> Result<Option<Lease>, sqlx::Error> {
    let ticket: Option<i64> = on!(tx, |c, d| {
        sqlx::query_scalar(lease_sql!(
            d,
            "UPDATE sync_leases SET holder = ?, ticket = ticket + 1, expires_at_ms = ",
            now,
            " + ? WHERE env = ? AND (holder = ? OR expires_at_ms <= ",
            now,
            ") RETURNING ticket"
        ))
        .bind(holder)
        .bind(ttl_ms)
        .bind(key)
        .bind(holder)
        .fetch_optional(&mut *c)
        .await
    })?;
    Ok(ticket.map(|ticket| Lease {
        key: key.to_string(),
        holder: holder.to_string(),
        ticket,
        ttl_ms,
    }))
}

/// [`claim_in`] in a transaction of its own (a lease that guards no record of its own).
pub async fn claim(db: &Db, key: &str, holder: &str, ttl_ms: i64) -> Result<Claim, sqlx::Error> {
    let mut tx = writer::begin_bookkeeping(db).await?;
    let claim = claim_in(&mut tx, key, holder, ttl_ms).await?;
    // A refused claim changed nothing; committing keeps SQLite's writer connection open.
    tx.commit().await?;
    Ok(claim)
}

/// A write transaction of `lease`'s run: refused (rolled back) unless the lease is still its
/// own, and then extended by its time to live. On PostgreSQL the lease row stays locked until
/// the transaction ends, so a takeover waits for it rather than interleaving.
pub async fn begin_fenced(db: &Db, lease: &Lease) -> Result<WriteTx, FenceError> {
    let mut tx = writer::begin(db).await?;
    fence_in(&mut tx, lease).await?;
    Ok(tx)
}

/// Commits a transaction of [`begin_fenced`], extending the lease once more: a long
/// transaction does not leave it closer to expiry than its time to live.
pub async fn commit_fenced(mut tx: WriteTx, lease: &Lease) -> Result<(), FenceError> {
    fence_in(&mut tx, lease).await?;
    tx.commit().await?;
    Ok(())
}

async fn fence_in(tx: &mut WriteTx, lease: &Lease) -> Result<(), FenceError> {
    let extended = on!(tx, |c, d| {
        sqlx::query(lease_sql!(
            d,
            "UPDATE sync_leases SET expires_at_ms = ",
            now,
            " + ? WHERE env = ? AND ticket = ? AND expires_at_ms > ",
            now
        ))
        .bind(lease.ttl_ms)
        .bind(&lease.key)
        .bind(lease.ticket)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    if extended == 1 {
        return Ok(());
    }
    let row: Option<LeaseRow> = on!(tx, |c, d| {
        sqlx::query_as(lease_sql!(
            d,
            "SELECT holder, ticket, expires_at_ms, ",
            now,
            " AS now_ms FROM sync_leases WHERE env = ?"
        ))
        .bind(&lease.key)
        .fetch_optional(&mut *c)
        .await
    })?;
    Err(Lost::of(row.as_ref(), lease).into())
}

/// Extends `lease` by its time to live; lost when another claim took it or it expired.
pub async fn renew(db: &Db, lease: &Lease) -> Result<(), FenceError> {
    let mut tx = writer::begin_bookkeeping(db).await?;
    fence_in(&mut tx, lease).await?;
    tx.commit().await?;
    Ok(())
}

/// Gives `lease` up (it expires now), unless it is no longer its holder's.
pub async fn release(db: &Db, lease: &Lease) -> Result<(), sqlx::Error> {
    write!(db, |p, d| {
        sqlx::query(lease_sql!(
            d,
            "UPDATE sync_leases SET expires_at_ms = ",
            now,
            " WHERE env = ? AND ticket = ? AND expires_at_ms > ",
            now
        ))
        .bind(&lease.key)
        .bind(lease.ticket)
        .execute(p)
        .await
        .map(drop)
    })
}

/// The lease of `key` as stored, with the database's clock; `None` when never claimed.
pub async fn state(db: &Db, key: &str) -> Result<Option<LeaseRow>, sqlx::Error> {
    read!(db, |p, d| {
        sqlx::query_as(lease_sql!(
            d,
            "SELECT holder, ticket, expires_at_ms, ",
            now,
            " AS now_ms FROM sync_leases WHERE env = ?"
        ))
        .bind(key)
        .fetch_optional(p)
        .await
    })
}

/// Who holds `key` now; `None` while nobody does.
pub async fn leader(db: &Db, key: &str) -> Result<Option<Leader>, sqlx::Error> {
    Ok(state(db, key)
        .await?
        .filter(|r| !r.vacant())
        .map(|r| Leader {
            holder: r.holder,
            expires_at_ms: r.expires_at_ms,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(holder: &str, ticket: i64, expires_at_ms: i64) -> LeaseRow {
        LeaseRow {
            holder: holder.into(),
            ticket,
            expires_at_ms,
            now_ms: 1_000,
        }
    }

    #[test]
    fn a_claim_takes_a_free_expired_or_own_lease_and_refuses_a_valid_one() {
        let take = |previous: Option<&str>| Decision::Take {
            previous: previous.map(str::to_string),
        };
        assert_eq!(decide(None, "a"), take(None));
        assert_eq!(decide(Some(&row("", 0, 0)), "a"), take(None));
        // Expired at this very millisecond: free.
        assert_eq!(decide(Some(&row("b", 4, 1_000)), "a"), take(Some("b")));
        assert_eq!(decide(Some(&row("a", 4, 9_000)), "a"), take(Some("a")));
        assert_eq!(
            decide(Some(&row("b", 4, 1_001)), "a"),
            Decision::Refuse(Leader {
                holder: "b".into(),
                expires_at_ms: 1_001
            })
        );
    }

    #[test]
    fn a_lost_lease_names_its_new_holder_unless_nobody_holds_it() {
        let mine = Lease {
            key: "prod".into(),
            holder: "a".into(),
            ticket: 3,
            ttl_ms: 30_000,
        };
        let taken = Lost::of(Some(&row("b", 4, 9_000)), &mine);
        assert_eq!(taken.to_string(), "lease lost to `b`");
        let expired = Lost::of(Some(&row("a", 3, 900)), &mine);
        assert_eq!(
            expired.to_string(),
            "lease lost: it expired before it was renewed"
        );
        assert_eq!(Lost::of(None, &mine).to, None);
    }

    #[test]
    fn expiry_reads_as_rfc3339_milliseconds() {
        let l = Leader {
            holder: "a".into(),
            expires_at_ms: 1_767_604_252_120,
        };
        assert_eq!(l.expires_at(), "2026-01-05T09:10:52.120Z");
    }
}
