//! The mirror's generation, kept in the database (`mirror_generation`) so that every process
//! on one mirror knows when what it cached is out of date: every committed mirror write raises
//! it in its own transaction (see [`super::writer`]), and each process keeps the newest value it
//! knows in [`Db::generation`], which the response cache and the report tallies key on.
//!
//! Other processes' commits reach a process through [`follow`]: on PostgreSQL a `LISTEN` on
//! [`CHANNEL`] (each raise sends `NOTIFY` with the new value, delivered at commit), on SQLite a
//! look at the table every [`SQLITE_POLL`] (a `sync --once` beside a server writes the same
//! file, and SQLite has no notifications).

use std::future::Future;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use super::writer::WriteTx;
use super::{Db, Pools};

/// The PostgreSQL channel every raise is announced on; the payload is the new generation.
pub const CHANNEL: &str = "spectrocloud_mirror";

/// How often a SQLite process looks for another process's writes (a few rows read per second:
/// nothing beside the answers it keeps fresh).
pub const SQLITE_POLL: Duration = Duration::from_millis(250);

/// Waits between attempts to listen again after the connection was lost: short at first (a
/// restarted server is back in a moment), then no more often than this.
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);

fn generation(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Raises the generation inside `tx` and returns the new value. Run last before COMMIT: on
/// PostgreSQL the row stays locked until the commit, so raises commit in the order of their
/// values, and the notification queued here is delivered only if the commit succeeds.
pub(super) async fn raise(tx: &mut WriteTx) -> Result<u64, sqlx::Error> {
    let value: i64 = on!(tx, |c, d| {
        let value: i64 = sqlx::query_scalar(sql!(
            d,
            "INSERT INTO mirror_generation (id, generation) VALUES (1, 1)
             ON CONFLICT (id) DO UPDATE SET generation = mirror_generation.generation + 1
             RETURNING generation"
        ))
        .fetch_one(&mut *c)
        .await?;
        if d == super::dialect::Dialect::Postgres {
            sqlx::query(sql!(d, "SELECT pg_notify(?, ?)"))
                .bind(CHANNEL)
                .bind(value.to_string())
                .execute(&mut *c)
                .await?;
        }
        value
    });
    Ok(generation(value))
}

/// The generation the database holds now.
pub async fn current(db: &Db) -> Result<u64, sqlx::Error> {
    let value: Option<i64> = read!(db, |p, d| {
        sqlx::query_scalar(sql!(
            d,
            "SELECT generation FROM mirror_generation WHERE id = 1"
        ))
        .fetch_optional(p)
        .await
    })?;
    Ok(value.map_or(0, generation))
}

/// Follows the commits of other processes until `stop`: each time the generation moves past
/// what this process knew, [`Db::generation`] takes the new value (its cached answers and
/// report tallies are no longer served) and `moved` runs (to re-read what else another
/// process may have changed, such as sync freshness).
pub async fn follow<F, Fut>(db: Db, stop: CancellationToken, mut moved: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    match &db.pools {
        Pools::Postgres { pool } => listen(&db, pool, &stop, &mut moved).await,
        Pools::Sqlite { .. } => poll(&db, &stop, &mut moved).await,
    }
}

/// Takes `value` on; runs `moved` when it was news.
async fn take<F, Fut>(db: &Db, value: u64, moved: &mut F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    if db.observe_generation(value) {
        moved().await;
    }
}

/// SQLite: reads the table every [`SQLITE_POLL`].
async fn poll<F, Fut>(db: &Db, stop: &CancellationToken, moved: &mut F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut every = tokio::time::interval(SQLITE_POLL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        match current(db).await {
            Ok(value) => {
                if failing {
                    tracing::info!("reading the mirror's generation again");
                    failing = false;
                }
                take(db, value, moved).await;
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "cannot read the mirror's generation; answers may lag other processes' writes until it can");
                    failing = true;
                }
            }
        }
    }
}

/// The listening connection as last logged: each change of it is logged once, not each retry.
enum Link {
    Starting,
    Up,
    /// Lost (or never made) since then; `logged` once a failed attempt to listen was logged.
    Down {
        since: Instant,
        logged: bool,
    },
}

impl Link {
    fn up(&mut self, value: u64) {
        match self {
            Link::Starting => {
                tracing::info!(
                    generation = value,
                    "listening for other replicas' mirror changes"
                )
            }
            Link::Down { since, .. } => tracing::info!(
                generation = value,
                after_ms = since.elapsed().as_millis() as u64,
                "listening for other replicas' mirror changes again; the generation was re-read"
            ),
            Link::Up => {}
        }
        *self = Link::Up;
    }

    fn lost(&mut self, why: &str) {
        tracing::warn!(error = %why, "lost the connection listening for other replicas' mirror changes; reconnecting");
        *self = Link::Down {
            since: Instant::now(),
            logged: false,
        };
    }

    fn failed(&mut self, e: &sqlx::Error) {
        match self {
            Link::Starting => {
                tracing::warn!(error = %e, "cannot listen for other replicas' mirror changes yet; retrying");
                *self = Link::Down {
                    since: Instant::now(),
                    logged: true,
                };
            }
            Link::Down { logged, .. } if !*logged => {
                tracing::warn!(error = %e, "cannot listen again for other replicas' mirror changes; retrying until it can");
                *logged = true;
            }
            _ => {}
        }
    }
}

/// PostgreSQL: `LISTEN`, then read the table (whatever committed before the `LISTEN` took
/// effect is in it, whatever after is notified), then take each notification on as it
/// comes. A lost connection is made again, and the table read again: notifications sent
/// meanwhile are gone.
async fn listen<F, Fut>(db: &Db, pool: &PgPool, stop: &CancellationToken, moved: &mut F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut link = Link::Starting;
    let mut retry = RETRY_FIRST;
    loop {
        let subscribed = tokio::select! {
            _ = stop.cancelled() => return,
            s = subscribe(db, pool) => s,
        };
        let (mut listener, value) = match subscribed {
            Ok(s) => s,
            Err(e) => {
                link.failed(&e);
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(retry) => {}
                }
                retry = (retry * 2).min(RETRY_MAX);
                continue;
            }
        };
        retry = RETRY_FIRST;
        link.up(value);
        take(db, value, moved).await;
        let why = loop {
            let next = tokio::select! {
                _ = stop.cancelled() => return,
                n = listener.try_recv() => n,
            };
            match next {
                Ok(Some(n)) => {
                    let mut newest = payload(n.payload());
                    // A burst (a sync's batches) is taken on in one step.
                    while let Some(more) = listener.next_buffered() {
                        newest = newest.max(payload(more.payload()));
                    }
                    let value = match newest {
                        Some(v) => v,
                        None => current(db).await.unwrap_or(0),
                    };
                    take(db, value, moved).await;
                }
                Ok(None) => break "the connection closed".to_string(),
                Err(e) => break e.to_string(),
            }
        };
        link.lost(&why);
    }
}

/// A notification's generation; None when it is not one (then the table is read).
fn payload(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// A listener on [`CHANNEL`] and the generation read once it listens.
async fn subscribe(db: &Db, pool: &PgPool) -> Result<(PgListener, u64), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // A lost connection ends `try_recv` at once, so the table is read again after the new
    // `LISTEN` (see `listen`), not only when the next notification happens to arrive.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    let value = current(db).await?;
    Ok((listener, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_is_a_generation_or_nothing() {
        assert_eq!(payload("42"), Some(42));
        assert_eq!(payload(" 7\n"), Some(7));
        assert_eq!(payload(""), None);
        assert_eq!(payload("-1"), None);
        assert_eq!(payload("prod"), None);
    }
}
