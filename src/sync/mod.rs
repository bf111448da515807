//! The sync engine: one run at a time per environment (a trigger while one runs returns the
//! running one), a run timeout, cancellation on shutdown, every run recorded in `sync_runs`,
//! and the freshness every mirror answer reports.

pub mod apply;
pub mod bar;
pub mod detail;
pub mod guard;
pub mod index;
pub mod listing;
pub mod plan;
pub mod progress;
pub mod run;
pub mod scheduler;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub use run::SyncError;

use progress::Progress;

use crate::config::SyncConfig;
use crate::domain::RunOutcome;
use crate::palette::{Environment, Environments, PaletteError};
use crate::store::snapshot::Counts;
use crate::store::{Db, sync_runs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Startup,
    Schedule,
    Manual,
    Cli,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Startup => "startup",
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Cli => "cli",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunningRun {
    pub id: i64,
    pub trigger: Trigger,
    pub started_at: String,
    /// Phase, done/total per kind, Palette calls, estimate of the time left.
    #[serde(serialize_with = "progress_view")]
    pub progress: Arc<Progress>,
}

fn progress_view<S: serde::Serializer>(p: &Arc<Progress>, s: S) -> Result<S::Ok, S::Error> {
    p.view().serialize(s)
}

/// In-memory freshness of one environment (the hot path of every mirror answer).
#[derive(Debug, Clone, Default)]
pub struct EnvState {
    pub running: Option<RunningRun>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_attempt_failed: bool,
    /// The last run of this process failed because Palette could not be reached (connection
    /// failure or timeout), not because it refused or erred.
    pub unreachable: bool,
    /// When the last run of this process ended (paces runs started on demand).
    pub last_attempt_ended: Option<Instant>,
    /// When a run last applied its listings: the mirror answers from then on, even before
    /// any run of it has succeeded (a cold sync filling in details, or one that died).
    pub listed_at: Option<DateTime<Utc>>,
    /// Listed clusters whose reverse index is not in yet, as of the last run's last write.
    pub unindexed: u64,
}

fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What a mirror answer says about its data.
#[derive(Debug, Clone, Copy)]
pub struct Freshness {
    /// Finish time of the last successful sync, else the time a run's listings were applied;
    /// `None` = nothing to answer from yet.
    pub synced_at: Option<DateTime<Utc>>,
    /// Finish time of the last run that completed.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Older than `stale_after_seconds`, or the last attempt failed.
    pub stale: bool,
    /// Clusters whose reverse index is still being fetched: answers that depend on it (the
    /// reverse lookup, reports, searches by profile or pack) are partial while this is > 0.
    pub without_index: u64,
}

impl Freshness {
    /// Something an index-dependent answer counts is still being fetched.
    pub fn partial(&self) -> bool {
        self.without_index > 0
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Triggered {
    pub environment: String,
    pub run_id: i64,
    pub status: TriggerStatus,
}

/// What a trigger did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerStatus {
    Started,
    /// This is the run that was under way.
    AlreadyRunning,
}

impl std::fmt::Display for TriggerStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TriggerStatus::Started => "started",
            TriggerStatus::AlreadyRunning => "already_running",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub environment: String,
    pub run_id: i64,
    pub outcome: RunOutcome,
    pub counts: Counts,
    pub api_calls: u64,
    /// 429s Palette answered during the run (back-pressure, not failures).
    pub throttled: u64,
    pub duration_ms: u64,
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("unknown environment `{0}`")]
    UnknownEnvironment(String),
    #[error("cannot record the run: {0}")]
    Store(#[from] sqlx::Error),
    #[error("sync state lock poisoned")]
    Poisoned,
    #[error("cannot take the sync lock file: {0}")]
    Lock(#[source] std::io::Error),
}

/// How often a running sync logs its progress.
const PROGRESS_LOG_EVERY: Duration = Duration::from_secs(5);

pub struct SyncEngine {
    db: Db,
    envs: Environments,
    config: SyncConfig,
    state: Mutex<HashMap<String, EnvState>>,
    shutdown: CancellationToken,
    /// Background runs, so shutdown can wait for them to record their end.
    tasks: TaskTracker,
    /// Serialises `begin`.
    begin_lock: tokio::sync::Mutex<()>,
}

enum Begun {
    /// The run id, and the environment's sync lock held for the run.
    Started(i64, SyncLock),
    Running(i64),
}

/// An exclusive lock on `<database>.sync-<env>.lock`: one run per environment across every
/// process using the database (a `sync --once` beside a running server included). The OS
/// releases it when its holder dies, so a crash never leaves it taken.
pub struct SyncLock {
    _file: Option<std::fs::File>,
}

impl SyncLock {
    fn path(file: &std::path::Path, env: &str) -> std::path::PathBuf {
        let mut name = file.as_os_str().to_owned();
        name.push(format!(".sync-{env}.lock"));
        std::path::PathBuf::from(name)
    }

    /// `Ok(None)` when another process holds it. There is no file beside a PostgreSQL
    /// database: the environment's lease keeps runs apart there.
    fn try_take(db: &Db, env: &str) -> std::io::Result<Option<SyncLock>> {
        let Some(path) = db.sqlite_path() else {
            return Ok(Some(SyncLock { _file: None }));
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(Self::path(path, env))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(SyncLock { _file: Some(file) })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

impl SyncEngine {
    /// Registers the environments in the mirror, marks runs of a previous process that died as
    /// interrupted, and loads each environment's last success.
    pub async fn new(
        db: Db,
        envs: Environments,
        config: SyncConfig,
        shutdown: CancellationToken,
    ) -> Result<Arc<SyncEngine>, sqlx::Error> {
        let configs: Vec<_> = envs.all().iter().map(|e| e.config.clone()).collect();
        sync_runs::ensure_environments(&db, &configs).await?;
        for e in envs.all() {
            // Only runs nobody holds the lock of are really dead.
            if let Ok(Some(_lock)) = SyncLock::try_take(&db, e.name()) {
                let interrupted = sync_runs::mark_interrupted(&db, e.name()).await?;
                if interrupted > 0 {
                    tracing::warn!(
                        env = e.name(),
                        runs = interrupted,
                        "sync runs of a previous process were interrupted"
                    );
                }
            }
        }
        let mut state = HashMap::new();
        for e in envs.all() {
            let listed = sync_runs::last_listed(&db, e.name()).await?;
            let (last, success) = sync_runs::latest(&db, e.name()).await?;
            let parse = |t: &str| {
                DateTime::parse_from_rfc3339(t)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            };
            state.insert(
                e.name().to_string(),
                EnvState {
                    running: None,
                    last_success_at: success.and_then(|s| s.finished_at.as_deref().and_then(parse)),
                    last_attempt_failed: last.is_some_and(|l| l.outcome != RunOutcome::Success),
                    unreachable: false,
                    last_attempt_ended: None,
                    listed_at: listed.as_deref().and_then(parse_time),
                    unindexed: crate::store::snapshot::unindexed(&db, e.name()).await?,
                },
            );
        }
        Ok(Arc::new(SyncEngine {
            db,
            envs,
            config,
            state: Mutex::new(state),
            shutdown,
            tasks: TaskTracker::new(),
            begin_lock: tokio::sync::Mutex::new(()),
        }))
    }

    pub fn env_state(&self, env: &str) -> EnvState {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.get(env).cloned())
            .unwrap_or_default()
    }

    /// When listings were last applied (by the run under way, else the last one).
    pub fn listed_at(&self, env: &str) -> Option<DateTime<Utc>> {
        let s = self.env_state(env);
        s.running
            .as_ref()
            .and_then(|r| r.progress.listed_at())
            .and_then(|t| parse_time(&t))
            .or(s.listed_at)
    }

    pub fn freshness(&self, env: &str) -> Freshness {
        let s = self.env_state(env);
        // Before the first success, the listings of a run are the mirror (stale).
        let listed = s
            .running
            .as_ref()
            .and_then(|r| r.progress.listed_at())
            .and_then(|t| parse_time(&t))
            .or(s.listed_at);
        let old = s
            .last_success_at
            .map(|t| (Utc::now() - t).num_seconds() > self.config.stale_after_seconds as i64)
            .unwrap_or(true);
        let without_index = s
            .running
            .as_ref()
            .and_then(|r| r.progress.unindexed())
            .unwrap_or(s.unindexed);
        Freshness {
            synced_at: s.last_success_at.or(listed),
            last_success_at: s.last_success_at,
            stale: old || s.last_attempt_failed,
            without_index,
        }
    }

    fn environment(&self, env: &str) -> Result<Arc<Environment>, TriggerError> {
        self.envs
            .get(Some(env))
            .cloned()
            .ok_or_else(|| TriggerError::UnknownEnvironment(env.to_string()))
    }

    async fn begin(&self, env: &str, trigger: Trigger) -> Result<Begun, TriggerError> {
        // One begin at a time: checking for a run, taking the lock and recording the new run
        // are one step, so two triggers can never both start or both miss each other.
        let _serial = self.begin_lock.lock().await;
        if let Some(r) = self.env_state(env).running {
            return Ok(Begun::Running(r.id));
        }
        let Some(lock) = SyncLock::try_take(&self.db, env).map_err(TriggerError::Lock)? else {
            // Another process syncs this environment right now.
            let id = sync_runs::running(&self.db, env).await?.unwrap_or(0);
            return Ok(Begun::Running(id));
        };
        let started_at = crate::store::now_text();
        let id = sync_runs::start(&self.db, env, trigger.as_str(), &started_at).await?;
        let mut s = self.state.lock().map_err(|_| poisoned())?;
        s.entry(env.to_string()).or_default().running = Some(RunningRun {
            id,
            trigger,
            started_at,
            progress: Arc::new(Progress::new()),
        });
        Ok(Begun::Started(id, lock))
    }

    /// Re-reads an environment's freshness from `sync_runs`, which another process (a
    /// `sync --once` beside the server) may have moved on.
    pub async fn reload(&self, env: &str) -> Result<(), sqlx::Error> {
        let (last, success) = sync_runs::latest(&self.db, env).await?;
        let success_at = success
            .and_then(|r| r.finished_at)
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc));
        let listed = sync_runs::last_listed(&self.db, env).await?;
        let unindexed = crate::store::snapshot::unindexed(&self.db, env).await?;
        if let Ok(mut s) = self.state.lock() {
            let entry = s.entry(env.to_string()).or_default();
            if entry.running.is_none() {
                entry.unindexed = unindexed;
            }
            if entry.running.is_none() && entry.listed_at.is_none() {
                entry.listed_at = listed.as_deref().and_then(parse_time);
            }
            if entry.running.is_none() && success_at > entry.last_success_at {
                entry.last_success_at = success_at;
                entry.last_attempt_failed = last.is_some_and(|l| l.outcome == RunOutcome::Failed);
            }
        }
        Ok(())
    }

    /// Starts a run in the background (or reports the one under way).
    pub async fn trigger(
        self: &Arc<Self>,
        env: &str,
        trigger: Trigger,
    ) -> Result<Triggered, TriggerError> {
        let e = self.environment(env)?;
        match self.begin(env, trigger).await? {
            Begun::Running(id) => Ok(Triggered {
                environment: env.to_string(),
                run_id: id,
                status: TriggerStatus::AlreadyRunning,
            }),
            Begun::Started(id, lock) => {
                let engine = self.clone();
                self.tasks.spawn(async move {
                    engine.execute(&e, id, lock).await;
                });
                Ok(Triggered {
                    environment: env.to_string(),
                    run_id: id,
                    status: TriggerStatus::Started,
                })
            }
        }
    }

    /// Runs now and waits; `None` when a run was already under way.
    pub async fn run_now(
        &self,
        env: &str,
        trigger: Trigger,
    ) -> Result<Option<RunReport>, TriggerError> {
        let e = self.environment(env)?;
        match self.begin(env, trigger).await? {
            Begun::Running(_) => Ok(None),
            Begun::Started(id, lock) => Ok(Some(self.execute(&e, id, lock).await)),
        }
    }

    async fn execute(&self, env: &Environment, id: i64, lock: SyncLock) -> RunReport {
        let span = tracing::info_span!("sync_run", env = %env.name(), run_id = id);
        self.execute_in_span(env, id, lock).instrument(span).await
    }

    async fn execute_in_span(&self, env: &Environment, id: i64, lock: SyncLock) -> RunReport {
        let name = env.name().to_string();
        let _slot = guard::Slot {
            state: &self.state,
            env: env.name(),
            id,
        };
        let progress = self
            .env_state(&name)
            .running
            .map(|r| r.progress)
            .unwrap_or_default();
        progress.watch_throttles(&env.client);
        let started = Instant::now();
        tracing::info!(env = %name, run_id = id, "sync run started");
        let result = self.work_with_progress(env, id, &progress).await;
        let unreachable = matches!(
            result,
            Err(SyncError::Palette(
                PaletteError::Unreachable { .. } | PaletteError::Timeout { .. }
            ))
        );
        // A success was recorded in the transaction of its last write; a failure keeps the
        // counts its batches recorded (and never overwrites a run its last write ended).
        let recorded = sync_runs::is_finished(&self.db, id).await.unwrap_or(false);
        let ended = Ended::of(result, recorded, env.config.api_token.expose());
        let report = RunReport {
            environment: name,
            run_id: id,
            outcome: ended.outcome,
            api_calls: progress.calls.load(Ordering::Relaxed),
            throttled: progress.throttled().values().sum(),
            duration_ms: started.elapsed().as_millis() as u64,
            counts: ended.counts,
            error: ended.error,
        };
        if !recorded {
            self.record_end(&report).await;
        }
        // The file lock goes before the run is marked over: whoever sees no run can take it.
        self.after_run(&report, &progress, unreachable, lock).await;
        report
    }

    /// The run itself, bounded by the run timeout and shutdown, logging its progress meanwhile.
    async fn work_with_progress(
        &self,
        env: &Environment,
        id: i64,
        progress: &Progress,
    ) -> Result<Counts, SyncError> {
        let timeout = Duration::from_secs(self.config.run_timeout_seconds);
        let work = async {
            tokio::select! {
                r = tokio::time::timeout(timeout, guard::contained(run::run(env, &self.db, &self.config, id, progress))) => {
                    r.unwrap_or(Err(SyncError::TimedOut(self.config.run_timeout_seconds)))
                }
                _ = self.shutdown.cancelled() => Err(SyncError::Cancelled),
            }
        };
        tokio::pin!(work);
        let mut tick = tokio::time::interval(PROGRESS_LOG_EVERY);
        tick.tick().await;
        loop {
            tokio::select! {
                r = &mut work => return r,
                _ = tick.tick() => {
                    if let Some(v) = progress.view() {
                        tracing::info!(env = %env.name(), run_id = id, phase = v.phase.as_str(),
                            palette_calls = v.palette_calls, throttled = v.throttled,
                            eta_seconds = v.eta_seconds,
                            "sync progress: {}", v.line());
                    }
                }
            }
        }
    }

    /// Writes the end of a run its last write did not record.
    async fn record_end(&self, r: &RunReport) {
        let error = r.error.as_deref();
        let written =
            sync_runs::finish(&self.db, r.run_id, r.outcome, None, r.api_calls, error).await;
        if let Err(e) = written {
            tracing::error!(env = %r.environment, run_id = r.run_id, error = %e, "cannot record the end of a sync run");
        }
    }

    /// What follows a run: the lock given back, the state updated, the database tidied and
    /// the reports counted ahead after a success, and one log line.
    async fn after_run(
        &self,
        r: &RunReport,
        progress: &Progress,
        unreachable: bool,
        lock: SyncLock,
    ) {
        let success = r.outcome == RunOutcome::Success;
        if success {
            crate::store::maintenance::checkpoint(&self.db).await;
        }
        // The run's listings and details are freed by now; give their pages back.
        tokio::task::spawn_blocking(crate::memory::release_free_heap);
        drop(lock);
        if let Ok(mut s) = self.state.lock() {
            let entry = s.entry(r.environment.clone()).or_default();
            entry.running = None;
            entry.last_attempt_ended = Some(Instant::now());
            entry.unreachable = unreachable;
            if let Some(t) = progress.listed_at().as_deref().and_then(parse_time) {
                entry.listed_at = Some(t);
            }
            if let Some(n) = progress.unindexed() {
                entry.unindexed = n;
            }
            if success {
                entry.last_success_at = Some(Utc::now());
            }
            entry.last_attempt_failed = !success;
        }
        let changed: u64 = r
            .counts
            .values()
            .map(|c| c.added + c.changed + c.deleted)
            .sum();
        if success
            && changed > 0
            && let Err(e) = crate::store::refresh_statistics(&self.db).await
        {
            tracing::warn!(env = %r.environment, error = %e, "cannot refresh the query planner's statistics");
        }
        if success {
            self.warm_reports(&r.environment);
        }
        let (env, id, duration_ms, api_calls, throttled) = (
            &r.environment,
            r.run_id,
            r.duration_ms,
            r.api_calls,
            r.throttled,
        );
        match &r.error {
            None => {
                tracing::info!(env = %env, run_id = id, duration_ms, api_calls, throttled, changed, "sync run succeeded")
            }
            Some(e) => {
                tracing::warn!(env = %env, run_id = id, duration_ms, api_calls, throttled, error = %e, "sync run failed; the previous mirror stays")
            }
        }
    }

    /// Counts the reports of `env` for the mirror a run just completed, in the background, so
    /// the first report after a sync does not wait for it (seconds at 100,000 clusters).
    fn warm_reports(&self, env: &str) {
        let synced_at = self.freshness(env).synced_at.map(|t| t.timestamp_micros());
        let (db, env) = (self.db.clone(), env.to_string());
        self.tasks.spawn(async move {
            if let Err(e) = db.tallies.get(&db, &env, synced_at).await {
                tracing::warn!(env, error = %e, "cannot count the reports ahead");
            }
        });
    }

    /// Waits (bounded) for background runs to finish after shutdown was signalled.
    pub async fn wait_idle(&self, limit: Duration) {
        self.tasks.close();
        if tokio::time::timeout(limit, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("sync runs did not stop within {} s", limit.as_secs());
        }
    }
}

/// How a run ended, as recorded and answered (pure).
#[derive(Debug)]
struct Ended {
    outcome: RunOutcome,
    counts: Counts,
    error: Option<String>,
}

impl Ended {
    /// `recorded`: the run's last write already recorded it as a success. A failure's text is
    /// scrubbed of `key` (Palette's text may echo the key it was sent).
    fn of(result: Result<Counts, SyncError>, recorded: bool, key: &str) -> Ended {
        let ended = match result {
            Ok(counts) => Ended {
                outcome: RunOutcome::Success,
                counts,
                error: None,
            },
            Err(SyncError::Cancelled) => Ended {
                outcome: RunOutcome::Interrupted,
                counts: Counts::new(),
                error: Some(SyncError::Cancelled.to_string()),
            },
            Err(e) => Ended {
                outcome: RunOutcome::Failed,
                counts: Counts::new(),
                error: Some(crate::palette::scrub(&e.to_string(), &[key])),
            },
        };
        match recorded {
            true => Ended {
                outcome: RunOutcome::Success,
                error: None,
                ..ended
            },
            false => ended,
        }
    }
}

fn poisoned() -> TriggerError {
    TriggerError::Poisoned
}

/// Renders run reports as a table (the `sync --once` summary).
pub fn summary_table(reports: &[RunReport]) -> String {
    let mut out = String::new();
    for r in reports {
        out.push_str(&format!(
            "environment {}: {} in {:.2} s, {} Palette calls, {} 429s (run #{})\n",
            r.environment,
            r.outcome,
            r.duration_ms as f64 / 1000.0,
            r.api_calls,
            r.throttled,
            r.run_id
        ));
        if let Some(e) = &r.error {
            out.push_str(&format!("  error: {e}\n"));
            continue;
        }
        out.push_str(&format!(
            "  {:<18} {:>8} {:>8} {:>8} {:>8}\n",
            "kind", "seen", "added", "changed", "deleted"
        ));
        for (kind, c) in &r.counts {
            out.push_str(&format!(
                "  {:<18} {:>8} {:>8} {:>8} {:>8}\n",
                kind, c.seen, c.added, c.changed, c.deleted
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runs_end_is_named_by_its_result_and_never_shows_the_key() {
        let ok = Ended::of(Ok(Counts::new()), false, "k");
        assert_eq!((ok.outcome, ok.error), (RunOutcome::Success, None));
        let stopped = Ended::of(Err(SyncError::Cancelled), false, "k");
        assert_eq!(stopped.outcome, RunOutcome::Interrupted);
        let failed = Ended::of(
            Err(SyncError::Panicked("sent key sekrit-key".into())),
            false,
            "sekrit-key",
        );
        assert_eq!(failed.outcome, RunOutcome::Failed);
        let text = failed.error.unwrap_or_default();
        assert!(
            !text.contains("sekrit-key") && text.contains("internal error"),
            "{text}"
        );
        // The last write recorded a success: a late failure (a timeout after it) does not undo it.
        let late = Ended::of(Err(SyncError::TimedOut(5)), true, "k");
        assert_eq!((late.outcome, late.error), (RunOutcome::Success, None));
    }

    #[test]
    fn outcomes_and_trigger_statuses_keep_their_words() {
        let words: Vec<String> = [
            RunOutcome::Running,
            RunOutcome::Success,
            RunOutcome::Failed,
            RunOutcome::Interrupted,
        ]
        .iter()
        .map(|o| serde_json::to_string(o).unwrap_or_default())
        .collect();
        assert_eq!(
            words,
            [
                "\"running\"",
                "\"success\"",
                "\"failed\"",
                "\"interrupted\""
            ]
        );
        let status = serde_json::to_string(&TriggerStatus::AlreadyRunning).unwrap_or_default();
        assert_eq!(status, "\"already_running\"");
    }
}
