//! The writes of a run: its listings at once, details in batches as they arrive, then the rest
//! with the deletions and the run's own record in ONE transaction (a kill between a commit and
//! the bookkeeping can no longer record a committed run as "nothing applied").

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::SyncError;
use super::plan::Target;
use super::progress::{Phase, Progress};
use super::run::Fetched;
use crate::domain::RunOutcome;
use crate::palette::PaletteError;
use crate::store::leases::{self, Lease};
use crate::store::snapshot::{self, Counts, Known, Part, Snapshot};
use crate::store::{Db, now_text, sync_runs};

/// Details written per batch transaction: big enough that a cold sync is not per-row commits,
/// small enough that readers see details fill in.
pub const BATCH_ROWS: usize = 100;
/// A batch is written at least this often while details trickle in (a throttled Palette).
pub const BATCH_WAIT: Duration = Duration::from_secs(1);

/// Enters `next`, and records how long the phase left lasted.
pub fn phase(env: &str, progress: &Progress, next: Phase) {
    if let Some((left, secs)) = progress.enter(next) {
        metrics::histogram!(
            "spectrocloud_sync_phase_seconds",
            "env" => env.to_string(),
            "phase" => left.as_str()
        )
        .record(secs);
        tracing::info!(
            env,
            phase = left.as_str(),
            seconds = secs,
            next = next.as_str(),
            "sync phase done"
        );
    }
}

/// Where a run writes: the mirror, its environment, what the mirror held when the run began
/// (every batch is counted against it, so nothing is counted twice), the run's record, and
/// the lease every one of its write transactions is fenced by.
pub struct Writes<'a> {
    pub db: &'a Db,
    pub env: &'a str,
    pub known: &'a Known,
    pub run_id: i64,
    pub lease: &'a Lease,
    pub progress: &'a Progress,
}

/// What the batches of one kind did.
pub struct BatchDone {
    /// Rows written with their details.
    applied: HashSet<usize>,
    /// Rows gone (404) or refused (403) since they were listed.
    dropped: HashSet<usize>,
    refused: usize,
}

impl BatchDone {
    /// Leaves in `part` only the rows still to write in the last transaction, notes the
    /// applied ones as present; returns whether the listing is still complete.
    #[must_use]
    pub fn finish<R>(
        self,
        env: &str,
        kind: &str,
        part: &mut Part<R>,
        uid: impl Fn(&R) -> &String,
    ) -> bool {
        if self.refused > 0 {
            tracing::warn!(
                env,
                kind,
                refused = self.refused,
                "details refused (403); keeping what the mirror has"
            );
        }
        let mut i = 0;
        let mut applied = Vec::new();
        part.rows.retain(|r| {
            let keep = !self.applied.contains(&i) && !self.dropped.contains(&i);
            if self.applied.contains(&i) {
                applied.push(uid(r).clone());
            }
            i += 1;
            keep
        });
        part.applied.extend(applied);
        self.refused == 0
    }
}

impl Writes<'_> {
    /// The listings: every kind's rows as listed, with the reverse index the cluster listing
    /// carries, and no deletions (those wait for the run's last transaction).
    pub async fn apply_listings(&self, snap: &mut Snapshot) -> Result<(), SyncError> {
        let now = now_text();
        // Without a copy of the rows (at 100,000 clusters that is hundreds of MB): the parts
        // are marked incomplete for this write, so nothing is deleted, and marked back after.
        let complete = snap.completeness();
        snap.set_completeness([false; 8]);
        let mut tx = leases::begin_fenced(self.db, self.lease).await?;
        // Counted in the last transaction, against the mirror as it was.
        let applied = snapshot::apply_in(&mut tx, self.env, snap, self.known, &now).await;
        snap.set_completeness(complete);
        applied?;
        let calls = self
            .progress
            .calls
            .load(std::sync::atomic::Ordering::Relaxed);
        sync_runs::progress_in(&mut tx, self.run_id, "{}", calls, Some(&now)).await?;
        let unindexed = snapshot::unindexed_in(&mut tx, self.env).await?;
        leases::commit_fenced(tx, self.lease).await?;
        self.progress.listed(&now);
        self.progress.set_unindexed(unindexed);
        // A cold mirror answers from its listings while the details arrive (many minutes at
        // scale): its reads then plan on the listed sizes, not on the empty tables it had.
        if self.known.clusters.is_empty()
            && let Err(e) = crate::store::refresh_statistics(self.db).await
        {
            tracing::warn!(env = self.env, error = %e, "cannot refresh the query planner's statistics");
        }
        tracing::info!(
            env = self.env,
            clusters_without_index = unindexed,
            "listings applied; the mirror answers from them"
        );
        Ok(())
    }

    /// Fetches the details of `targets` with bounded concurrency and writes them in batches
    /// as they arrive (`with` puts a detail on a copy of its row, `part` makes the batch's
    /// snapshot); `total` gathers the batches' counts.
    #[allow(clippy::too_many_arguments)]
    pub async fn batches<R, T, F, Fut>(
        &self,
        kind: &'static str,
        rows: &[R],
        targets: Vec<Target>,
        concurrency: usize,
        fetch: F,
        with: impl Fn(&R, T) -> R,
        part: impl Fn(Vec<R>) -> Snapshot,
        total: &mut Counts,
    ) -> Result<BatchDone, SyncError>
    where
        F: Fn(String, Option<String>) -> Fut,
        Fut: Future<Output = Result<Option<T>, PaletteError>>,
    {
        // Each fetch is made when a slot frees up, not all at once: 100,000 idle fetch
        // futures would hold gigabytes before the first one ran.
        let one = |(i, uid, project): Target| {
            let fut = fetch(uid, project);
            async move {
                match fut.await {
                    Ok(Some(d)) => Ok((i, Fetched::Got(d))),
                    Ok(None) => Ok((i, Fetched::Gone)),
                    Err(PaletteError::Forbidden { .. }) => Ok((i, Fetched::Refused)),
                    Err(e) => Err(e),
                }
            }
        };
        let mut done = BatchDone {
            applied: HashSet::new(),
            dropped: HashSet::new(),
            refused: 0,
        };
        // Fetching goes on while a batch is written: the stream is polled by its own future,
        // so a slow commit never leaves the prefix's tokens unused.
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        let produce = async move {
            let mut waiting = targets.into_iter();
            let mut running = FuturesUnordered::new();
            loop {
                while running.len() < concurrency.max(1) {
                    match waiting.next() {
                        Some(t) => running.push(one(t)),
                        None => break,
                    }
                }
                match running.next().await {
                    Some(next) => {
                        let _ = sender.send(next?);
                    }
                    None => break,
                }
            }
            Ok::<(), SyncError>(())
        };
        let consume = async {
            let mut pending: Vec<(usize, T)> = Vec::new();
            let mut since = Instant::now();
            while let Some(next) = receiver.recv().await {
                match next {
                    (i, Fetched::Got(d)) => pending.push((i, d)),
                    (i, Fetched::Gone) => {
                        done.dropped.insert(i);
                    }
                    (i, Fetched::Refused) => {
                        done.refused += 1;
                        done.dropped.insert(i);
                    }
                }
                if pending.len() >= BATCH_ROWS || since.elapsed() >= BATCH_WAIT {
                    self.write_batch(kind, rows, &mut pending, &with, &part, &mut done, total)
                        .await?;
                    since = Instant::now();
                }
            }
            self.write_batch(kind, rows, &mut pending, &with, &part, &mut done, total)
                .await
        };
        tokio::try_join!(produce, consume)?;
        Ok(done)
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_batch<R, T>(
        &self,
        kind: &'static str,
        rows: &[R],
        pending: &mut Vec<(usize, T)>,
        with: &impl Fn(&R, T) -> R,
        part: &impl Fn(Vec<R>) -> Snapshot,
        done: &mut BatchDone,
        total: &mut Counts,
    ) -> Result<(), SyncError> {
        if pending.is_empty() {
            return Ok(());
        }
        let n = pending.len() as u64;
        let mut batch = Vec::with_capacity(pending.len());
        for (i, d) in pending.drain(..) {
            batch.push(with(&rows[i], d));
            done.applied.insert(i);
        }
        let mut tx = leases::begin_fenced(self.db, self.lease).await?;
        let counts =
            snapshot::apply_in(&mut tx, self.env, &part(batch), self.known, &now_text()).await?;
        let mut after = total.clone();
        snapshot::add_counts(&mut after, &counts);
        let json = serde_json::to_string(&after).unwrap_or_else(|_| "{}".into());
        let calls = self
            .progress
            .calls
            .load(std::sync::atomic::Ordering::Relaxed);
        sync_runs::progress_in(&mut tx, self.run_id, &json, calls, None).await?;
        let unindexed = snapshot::unindexed_in(&mut tx, self.env).await?;
        leases::commit_fenced(tx, self.lease).await?;
        *total = after;
        self.progress.add_done(kind, n);
        self.progress.set_unindexed(unindexed);
        Ok(())
    }

    /// The rest of the run — unchanged and listing-only rows, the deletions — and the run's
    /// record as a success, in one transaction.
    pub async fn finish(&self, snap: &Snapshot, mut total: Counts) -> Result<Counts, SyncError> {
        let mut tx = leases::begin_fenced(self.db, self.lease).await?;
        let counts = snapshot::apply_in(&mut tx, self.env, snap, self.known, &now_text()).await?;
        snapshot::add_counts(&mut total, &counts);
        let json = serde_json::to_string(&total).unwrap_or_else(|_| "{}".into());
        let calls = self
            .progress
            .calls
            .load(std::sync::atomic::Ordering::Relaxed);
        sync_runs::progress_in(&mut tx, self.run_id, &json, calls, None).await?;
        sync_runs::finish_in(&mut tx, self.run_id, RunOutcome::Success, None).await?;
        let unindexed = snapshot::unindexed_in(&mut tx, self.env).await?;
        leases::commit_fenced(tx, self.lease).await?;
        self.progress.set_unindexed(unindexed);
        Ok(total)
    }
}
