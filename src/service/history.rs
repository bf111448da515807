//! Background upkeep of the change history: a notifier tails new events (written by the sync's
//! own transactions), counts them per type for Prometheus and hands them to the webhooks'
//! outbox (see [`super::webhooks`]); the daily fleet aggregates are refreshed and old history
//! is pruned, by one replica per period (the maintenance lease). Nothing here is on the sync's
//! path: a slow or failing webhook can never hold a sync up.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::webhooks::{self, Sender};
use crate::config::Config;
use crate::store::Db;
use crate::store::events::{self, Event};
use crate::store::leases::{self, Claim};
use crate::store::outbox::{self, NewDelivery};

/// How often new events are looked for.
const TAIL_EVERY: Duration = Duration::from_secs(1);
/// Events read per look.
const TAIL_BATCH: i64 = 500;
/// How often the daily aggregates are refreshed and old history pruned.
const UPKEEP_EVERY: Duration = Duration::from_secs(300);

/// Starts the notifier, one delivery task per webhook and the upkeep; all stop on `shutdown`.
pub async fn start(db: &Db, config: &Config, shutdown: &CancellationToken) -> Vec<JoinHandle<()>> {
    let mut workers = Vec::new();
    let hooks = &config.notifications.webhooks;
    let keys = webhooks::hook_keys(hooks);
    match outbox::forget_other_hooks(db, &keys).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            dropped = n,
            "pending deliveries of webhooks no longer configured dropped"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot tidy the webhook outbox"),
    }
    let mut targets = Vec::new();
    for (index, (hook, key)) in hooks.iter().zip(keys).enumerate() {
        let Some(sender) = Sender::new(db, index, key.clone(), hook.clone(), &config.notifications)
        else {
            continue;
        };
        targets.push(Target {
            index,
            key,
            types: hook.types.clone(),
            wake: sender.wake.clone(),
        });
        workers.push(tokio::spawn(sender.run(shutdown.clone())));
    }
    workers.push(tokio::spawn(notify(
        db.clone(),
        targets,
        config.notifications.max_pending_batches,
        shutdown.clone(),
    )));
    let envs: Vec<String> = config.environments.iter().map(|e| e.name.clone()).collect();
    let retention = Retention {
        history_days: config.history.retention_days,
        audit_days: config.audit.retention_days,
        replica: config.server.replica_id(),
    };
    workers.push(tokio::spawn(upkeep(
        db.clone(),
        envs,
        retention,
        shutdown.clone(),
    )));
    workers
}

/// A webhook as the notifier sees it.
struct Target {
    index: usize,
    key: String,
    types: Vec<String>,
    wake: Arc<Notify>,
}

async fn notify(db: Db, targets: Vec<Target>, max_rows: usize, stop: CancellationToken) {
    let mut every = tokio::time::interval(TAIL_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        if let Err(e) = tail(&db, &targets, max_rows).await {
            tracing::warn!(error = %e, "cannot hand new events to the webhooks");
        }
    }
}

/// Hands every event after the outbox's cursor to the outbox, a batch at a time; the cursor
/// moves in the same transaction, so a crash loses or repeats nothing.
async fn tail(db: &Db, targets: &[Target], max_rows: usize) -> Result<(), sqlx::Error> {
    loop {
        let Some(from) = outbox::cursor(db).await? else {
            // A database never notified before: from the newest event on.
            let last = events::last_id(db).await?;
            outbox::enqueue(db, None, last, &[], webhooks::now_ms(), max_rows).await?;
            return Ok(());
        };
        let batch = events::after(db, from, TAIL_BATCH).await?;
        let Some(last) = batch.last().map(|e| e.id) else {
            // Ids start over once retention has emptied the table: so does the cursor.
            if events::last_id(db).await? < from {
                outbox::enqueue(db, Some(from), 0, &[], webhooks::now_ms(), max_rows).await?;
            }
            return Ok(());
        };
        let planned = plan(&batch, targets);
        let deliveries: Vec<NewDelivery> = planned.iter().map(|(_, d)| d.clone()).collect();
        let done = outbox::enqueue(
            db,
            Some(from),
            last,
            &deliveries,
            webhooks::now_ms(),
            max_rows,
        )
        .await?;
        if done.moved {
            handed_over(&batch, targets, &planned, &done.dropped);
        }
        if (batch.len() as i64) < TAIL_BATCH {
            return Ok(());
        }
    }
}

/// Counts the events, wakes the webhooks that got a batch and counts what the bound dropped.
fn handed_over(
    batch: &[Event],
    targets: &[Target],
    planned: &[(usize, NewDelivery)],
    dropped: &[(String, u64)],
) {
    for e in batch {
        metrics::counter!("spectrocloud_events_total", "env" => e.environment.clone(), "type" => e.event_type.clone())
            .increment(1);
    }
    for (i, _) in planned {
        targets[*i].wake.notify_one();
    }
    for (key, n) in dropped {
        if let Some(t) = targets.iter().find(|t| &t.key == key) {
            metrics::counter!("spectrocloud_webhook_dropped_total", "webhook" => t.index.to_string())
                .increment(*n);
            tracing::warn!(
                webhook = t.index,
                dropped = n,
                "webhook outbox full; its oldest batches dropped"
            );
        }
    }
}

/// One delivery per webhook that wants any of `batch`: `{"events": [...]}` of its types.
fn plan(batch: &[Event], targets: &[Target]) -> Vec<(usize, NewDelivery)> {
    let mut out = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let wanted = selected(batch, &t.types);
        if wanted.is_empty() {
            continue;
        }
        match serde_json::to_string(&serde_json::json!({ "events": wanted })) {
            Ok(body) => out.push((
                i,
                NewDelivery {
                    msg_id: webhooks::new_msg_id(),
                    hook: t.key.clone(),
                    body,
                    events: wanted.len() as i64,
                },
            )),
            Err(e) => tracing::warn!(webhook = t.index, error = %e, "cannot encode events"),
        }
    }
    out
}

/// The events a webhook asked for (`types` empty = all).
fn selected(batch: &[Event], types: &[String]) -> Vec<Event> {
    batch
        .iter()
        .filter(|e| types.is_empty() || types.contains(&e.event_type))
        .cloned()
        .collect()
}

/// How long history and audit entries are kept, and who keeps them so.
struct Retention {
    history_days: u32,
    audit_days: u32,
    /// This replica, the holder of the maintenance lease when it runs the upkeep.
    replica: String,
}

/// Every [`UPKEEP_EVERY`], by whichever replica claims the maintenance lease for the period:
/// refreshes today's aggregates of every environment and prunes what is past retention.
async fn upkeep(db: Db, envs: Vec<String>, retention: Retention, stop: CancellationToken) {
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    // Held for a whole period: the replica that ran it claims it again (it is its own); the
    // others find it held until a period passes without it.
    let period_ms = UPKEEP_EVERY.as_millis() as i64;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        match leases::claim(&db, leases::MAINTENANCE, &retention.replica, period_ms).await {
            Ok(Claim::Taken { .. }) => upkeep_once(&db, &envs, &retention).await,
            Ok(Claim::Held(leader)) => tracing::debug!(
                replica = %retention.replica, leader = %leader.holder,
                "upkeep skipped: another replica holds the maintenance lease"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot claim the maintenance lease"),
        }
    }
}

/// One upkeep: today's aggregates, old history and old audit entries pruned.
async fn upkeep_once(db: &Db, envs: &[String], retention: &Retention) {
    let now = chrono::Utc::now();
    let today = now.date_naive().to_string();
    for env in envs {
        if let Err(e) = events::record_day(db, env, &today).await {
            tracing::warn!(env, error = %e, "cannot record the daily fleet aggregates");
        }
    }
    let cutoff = now - chrono::Duration::days(i64::from(retention.history_days));
    let at = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    match events::prune(db, &at, &cutoff.date_naive().to_string()).await {
        Ok(n) if n > 0 => tracing::info!(pruned = n, "old events pruned"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot prune old events"),
    }
    match crate::auth::audit::prune(db, retention.audit_days).await {
        Ok(n) if n > 0 => tracing::info!(pruned = n, "old audit entries pruned"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot prune the audit log"),
    }
    tracing::debug!(replica = %retention.replica, "upkeep done");
}
