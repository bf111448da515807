//! One sync leader per environment across replicas. A run begins by claiming the
//! environment's lease and recording itself in the same transaction ([`begin_run`]); the lease
//! is renewed every third of its time to live while the run lasts ([`Renewal`]) and released at
//! its end; every replica watches for environments whose leader stopped mid-run and takes them
//! over ([`watch`]). The writes of a run are fenced by its lease (`leases::begin_fenced`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::{SyncEngine, Trigger, TriggerStatus};
use crate::domain::RunOutcome;
use crate::store::leases::{self, Decision, FenceError, Leader, Lease, LeaseRow, Lost};
use crate::store::{Db, sync_runs, writer};

/// Who claims an environment for a run, and for what.
pub struct Claimant<'a> {
    pub env: &'a str,
    /// This process's replica id.
    pub holder: &'a str,
    pub ttl: Duration,
    pub trigger: Trigger,
    pub started_at: &'a str,
    /// A scheduled run's tick (RFC 3339): claimed only if no replica started one for it yet.
    pub tick: Option<&'a str>,
}

/// What claiming an environment for a run found.
#[derive(Debug)]
pub enum Begin {
    /// Claimed and recorded as run `id`; `interrupted` runs `previous` left unfinished are
    /// marked so.
    Claimed {
        id: i64,
        lease: Lease,
        previous: Option<String>,
        interrupted: u64,
    },
    /// Another process holds the lease; its run's id, when one is recorded.
    Led { leader: Leader, run_id: Option<i64> },
    /// Another replica already started this tick's run.
    TickTaken(i64),
}

/// Claims `c.env`'s lease and records the run in one transaction, so a run exists only with
/// its lease and a lease is claimed only with its run. Runs the previous holder left
/// `running` are marked interrupted in the same transaction.
pub async fn begin_run(db: &Db, c: &Claimant<'_>) -> Result<Begin, sqlx::Error> {
    let mut tx = writer::begin_bookkeeping(db).await?;
    let row = leases::lock_in(&mut tx, c.env).await?;
    let previous = match leases::decide(row.as_ref(), c.holder) {
        Decision::Take { previous } => previous,
        Decision::Refuse(leader) => {
            tx.commit().await?;
            let run_id = sync_runs::running(db, c.env).await?;
            return Ok(Begin::Led { leader, run_id });
        }
    };
    // Read under the lease's lock: a replica that ran this tick committed its run with it.
    if let Some(tick) = c.tick
        && let Some(id) = sync_runs::scheduled_since_in(&mut tx, c.env, tick).await?
    {
        tx.commit().await?;
        return Ok(Begin::TickTaken(id));
    }
    let ttl_ms = i64::try_from(c.ttl.as_millis()).unwrap_or(i64::MAX);
    let Some(lease) = leases::take_in(&mut tx, c.env, c.holder, ttl_ms).await? else {
        tx.commit().await?;
        let leader = leases::leader(db, c.env).await?.unwrap_or(Leader {
            holder: String::new(),
            expires_at_ms: 0,
        });
        return Ok(Begin::Led {
            leader,
            run_id: None,
        });
    };
    let interrupted =
        sync_runs::interrupt_in(&mut tx, c.env, previous.as_deref(), c.holder).await?;
    let id =
        sync_runs::start_in(&mut tx, c.env, c.trigger.as_str(), c.started_at, c.holder).await?;
    tx.commit().await?;
    Ok(Begin::Claimed {
        id,
        lease,
        previous,
        interrupted,
    })
}

/// How often a lease is renewed, and how often replicas look for leaders that stopped: a
/// third of its time to live, so two renewals may fail before it expires (pure).
pub fn every_third(ttl: Duration) -> Duration {
    (ttl / 3).max(Duration::from_millis(50))
}

/// The renewal of a run's lease, in a task of its own so a run busy on the CPU (planning a
/// large tenant) never delays it. Dropped with the run, it stops: a run that dies stops
/// renewing, and its lease expires for another replica to take over.
pub struct Renewal {
    _task: AbortOnDropHandle<()>,
    lost: watch::Receiver<Option<Lost>>,
}

impl Renewal {
    pub fn start(db: Db, lease: Lease) -> Renewal {
        let (tell, lost) = watch::channel(None);
        let task = tokio::spawn(renew(db, lease, tell));
        Renewal {
            _task: AbortOnDropHandle::new(task),
            lost,
        }
    }

    /// Resolves once the lease is lost (another replica holds it, or it expired unrenewed).
    pub async fn lost(&self) -> Lost {
        let mut lost = self.lost.clone();
        let seen = lost.wait_for(Option::is_some).await.map(|l| l.clone());
        match seen {
            Ok(l) => l.unwrap_or(Lost { to: None }),
            // The task ended without losing it: nothing to wait for.
            Err(_) => std::future::pending().await,
        }
    }
}

async fn renew(db: Db, lease: Lease, tell: watch::Sender<Option<Lost>>) {
    let every = every_third(Duration::from_millis(lease.ttl_ms.max(0) as u64));
    loop {
        tokio::time::sleep(every).await;
        match leases::renew(&db, &lease).await {
            Ok(()) => {
                tracing::trace!(env = %lease.key, ticket = lease.ticket, "sync lease renewed")
            }
            Err(FenceError::Lost(lost)) => {
                tracing::warn!(env = %lease.key, ticket = lease.ticket, error = %lost,
                    "sync lease lost; the run stops");
                let _ = tell.send(Some(lost));
                return;
            }
            Err(FenceError::Store(e)) => {
                tracing::warn!(env = %lease.key, error = %e, "cannot renew the sync lease; trying again")
            }
        }
    }
}

/// What watching a lease another process holds shows, against how it was first seen (pure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// Renewed, released or claimed again: its holder is alive.
    Alive,
    /// Expired as it was: its holder stopped.
    Expired,
    Waiting,
}

pub fn watched(first: &LeaseRow, now: &LeaseRow) -> Watched {
    if (now.ticket, now.expires_at_ms) != (first.ticket, first.expires_at_ms) {
        Watched::Alive
    } else if now.vacant() {
        Watched::Expired
    } else {
        Watched::Waiting
    }
}

/// How often a lease is looked at while outlasting its holder.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// Watches `env`'s lease, held by another process, until its holder shows alive (`false`)
/// or the lease expires unrenewed (`true`: it can be claimed). Lets a `sync --once` started
/// after a process died mid-run take over once that lease expires, while it refuses beside a
/// live holder within a third of a lease.
pub async fn outlasts(db: &Db, env: &str) -> Result<bool, sqlx::Error> {
    let Some(first) = leases::state(db, env).await?.filter(|l| !l.vacant()) else {
        return Ok(true);
    };
    tracing::info!(env, holder = %first.holder, expires_in_ms = first.expires_at_ms - first.now_ms,
        "another process holds the environment's lease; waiting to see whether it renews it");
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let Some(now) = leases::state(db, env).await? else {
            return Ok(true);
        };
        match watched(&first, &now) {
            Watched::Alive => return Ok(false),
            Watched::Expired => return Ok(true),
            Watched::Waiting => {}
        }
    }
}

/// Whether an environment is to be taken over: nobody holds its lease while its newest run
/// never finished — its leader died or was stopped mid-run (pure).
pub fn takeover_due(lease: Option<&LeaseRow>, newest: Option<RunOutcome>) -> bool {
    lease.is_none_or(LeaseRow::vacant)
        && matches!(newest, Some(RunOutcome::Running | RunOutcome::Interrupted))
}

/// Whether another process runs an environment now: it holds the lease, and the newest run
/// is under way (pure).
pub fn running_elsewhere(lease: Option<&LeaseRow>, newest: Option<RunOutcome>, me: &str) -> bool {
    lease.is_some_and(|l| !l.vacant() && l.holder != me) && newest == Some(RunOutcome::Running)
}

/// Every third of a lease, takes over the environments [`takeover_due`]: the new run resumes
/// from what the stopped one applied. Every replica watches; the lease lets one win.
pub async fn watch(engine: Arc<SyncEngine>, stop: CancellationToken) {
    let every = every_third(engine.lease_ttl());
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        for env in engine.environment_names() {
            if let Err(e) = take_over_if_due(&engine, &env).await {
                tracing::warn!(env, error = %e, "cannot check the environment's sync leader");
            }
        }
    }
}

async fn take_over_if_due(engine: &Arc<SyncEngine>, env: &str) -> Result<(), super::TriggerError> {
    let lease = leases::state(engine.db(), env).await?;
    let newest = sync_runs::newest_outcome(engine.db(), env).await?;
    engine.note_running_elsewhere(
        env,
        running_elsewhere(lease.as_ref(), newest, engine.replica()),
    );
    if !takeover_due(lease.as_ref(), newest) {
        return Ok(());
    }
    let previous = lease.map(|l| l.holder).filter(|h| !h.is_empty());
    let t = engine.trigger(env, Trigger::Takeover).await?;
    match (t.status, t.leader) {
        (TriggerStatus::Started, _) => tracing::warn!(
            env,
            run_id = t.run_id,
            previous = previous.as_deref().unwrap_or("unknown"),
            "the sync leader stopped mid-run; this replica takes the environment over"
        ),
        (_, Some(leader)) => {
            tracing::debug!(
                env,
                leader,
                "takeover skipped: another replica took it first"
            )
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewals_and_checks_come_every_third_of_a_lease() {
        assert_eq!(
            every_third(Duration::from_secs(30)),
            Duration::from_secs(10)
        );
        assert_eq!(every_third(Duration::from_secs(1)).as_millis(), 333);
        // Two renewals may fail before the lease expires.
        let ttl = Duration::from_secs(2);
        assert!(every_third(ttl) * 2 < ttl);
        assert_eq!(every_third(Duration::ZERO), Duration::from_millis(50));
    }

    #[test]
    fn a_watched_lease_shows_its_holder_alive_when_it_moves_and_dead_when_it_expires_as_it_was() {
        let row = |ticket, expires_at_ms, now_ms| LeaseRow {
            holder: "a".into(),
            ticket,
            expires_at_ms,
            now_ms,
        };
        let first = row(4, 5_000, 1_000);
        assert_eq!(watched(&first, &row(4, 5_000, 3_000)), Watched::Waiting);
        assert_eq!(watched(&first, &row(4, 5_000, 5_000)), Watched::Expired);
        // Renewed, released (expires now), or claimed again by anyone.
        assert_eq!(watched(&first, &row(4, 9_000, 4_000)), Watched::Alive);
        assert_eq!(watched(&first, &row(4, 4_000, 4_000)), Watched::Alive);
        assert_eq!(watched(&first, &row(5, 9_000, 6_000)), Watched::Alive);
    }

    #[test]
    fn only_a_free_lease_over_an_unfinished_run_is_taken_over() {
        let lease = |expires_at_ms| LeaseRow {
            holder: "a".into(),
            ticket: 2,
            expires_at_ms,
            now_ms: 1_000,
        };
        let (expired, held) = (lease(999), lease(5_000));
        assert!(takeover_due(Some(&expired), Some(RunOutcome::Running)));
        assert!(takeover_due(Some(&expired), Some(RunOutcome::Interrupted)));
        assert!(takeover_due(None, Some(RunOutcome::Running)));
        assert!(!takeover_due(Some(&held), Some(RunOutcome::Running)));
        assert!(!takeover_due(Some(&expired), Some(RunOutcome::Success)));
        assert!(!takeover_due(Some(&expired), Some(RunOutcome::Failed)));
        assert!(!takeover_due(Some(&expired), None));
    }

    #[test]
    fn a_run_is_elsewhere_while_another_holder_keeps_the_lease_over_it() {
        let lease = |holder: &str, expires_at_ms| LeaseRow {
            holder: holder.into(),
            ticket: 1,
            expires_at_ms,
            now_ms: 1_000,
        };
        let running = Some(RunOutcome::Running);
        assert!(running_elsewhere(Some(&lease("a", 5_000)), running, "b"));
        // Its own lease, an expired one, none, or a run that ended.
        assert!(!running_elsewhere(Some(&lease("b", 5_000)), running, "b"));
        assert!(!running_elsewhere(Some(&lease("a", 999)), running, "b"));
        assert!(!running_elsewhere(None, running, "b"));
        let ended = Some(RunOutcome::Success);
        assert!(!running_elsewhere(Some(&lease("a", 5_000)), ended, "b"));
    }
}
