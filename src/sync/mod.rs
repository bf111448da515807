//! The sync engine: one run at a time per environment across every replica (the
//! environment's lease, see [`leader`]; a trigger while one runs returns the running one), a
//! run timeout, cancellation on shutdown, every run recorded in `sync_runs`, and the freshness
//! every mirror answer reports.

pub mod apply;
pub mod bar;
pub mod detail;
pub mod guard;
pub mod index;
pub mod leader;
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
use crate::store::leases::{Leader, Lease};
use crate::store::snapshot::Counts;
use crate::store::{Db, leases, sync_runs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Startup,
    Schedule,
    Manual,
    Cli,
    /// Another replica's run stopped mid-way (its lease expired); this one resumes it.
    Takeover,
}

impl Trigger {
    /// The trigger a run was recorded with.
    pub fn parse(s: &str) -> Option<Trigger> {
        [
            Trigger::Startup,
            Trigger::Schedule,
            Trigger::Manual,
            Trigger::Cli,
            Trigger::Takeover,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Startup => "startup",
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Cli => "cli",
            Trigger::Takeover => "takeover",
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
    /// Another process holds the environment's lease with a run under way, as last seen by
    /// the leader watch (every third of a lease).
    pub running_elsewhere: bool,
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
    /// The replica whose run is under way, when it is another one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
}

/// What `run_now` did.
#[derive(Debug)]
pub enum RunNow {
    Ran(RunReport),
    /// A run was under way: `run_id`, led by `leader` when that is another process.
    Busy {
        run_id: i64,
        leader: Option<String>,
    },
}

/// What a scheduled tick did.
#[derive(Debug)]
pub enum Ticked {
    Started(i64),
    /// This process's run of an earlier tick is still under way.
    Running(i64),
    /// Another replica holds the environment.
    Led(String),
    /// Another replica already ran this tick.
    Taken(i64),
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
}

/// How often a running sync logs its progress.
const PROGRESS_LOG_EVERY: Duration = Duration::from_secs(5);

pub struct SyncEngine {
    db: Db,
    envs: Environments,
    config: SyncConfig,
    /// This process's replica id: the holder of the leases it claims.
    replica: String,
    state: Mutex<HashMap<String, EnvState>>,
    shutdown: CancellationToken,
    /// Background runs, so shutdown can wait for them to record their end.
    tasks: TaskTracker,
    /// Serialises `begin`.
    begin_lock: tokio::sync::Mutex<()>,
}

enum Begun {
    /// The run id, and the environment's lease held for the run.
    Started(i64, Lease),
    /// This process's run.
    Running(i64),
    /// Another process holds the environment's lease.
    Led { leader: Leader, run_id: i64 },
    /// Another replica ran this scheduled tick.
    TickTaken(i64),
}

impl SyncEngine {
    /// Registers the environments in the mirror and loads each environment's last success.
    /// Runs a process left unfinished are marked interrupted by the next claim of their
    /// environment's lease (see [`leader::begin_run`]), not here: their leader may be alive.
    pub async fn new(
        db: Db,
        envs: Environments,
        config: SyncConfig,
        replica: String,
        shutdown: CancellationToken,
    ) -> Result<Arc<SyncEngine>, sqlx::Error> {
        let configs: Vec<_> = envs.all().iter().map(|e| e.config.clone()).collect();
        sync_runs::ensure_environments(&db, &configs).await?;
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
                    running_elsewhere: false,
                },
            );
        }
        Ok(Arc::new(SyncEngine {
            db,
            envs,
            config,
            replica,
            state: Mutex::new(state),
            shutdown,
            tasks: TaskTracker::new(),
            begin_lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// This process's replica id.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// An environment lease's time to live.
    pub fn lease_ttl(&self) -> Duration {
        Duration::from_secs(self.config.lease_seconds)
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn environment_names(&self) -> Vec<String> {
        self.envs
            .all()
            .iter()
            .map(|e| e.name().to_string())
            .collect()
    }

    /// Who holds `env`'s lease now (this replica or another); `None` between runs.
    pub async fn leader(&self, env: &str) -> Result<Option<Leader>, sqlx::Error> {
        leases::leader(&self.db, env).await
    }

    /// Notes whether another process runs `env` now (what the leader watch saw).
    pub fn note_running_elsewhere(&self, env: &str, elsewhere: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.entry(env.to_string()).or_default().running_elsewhere = elsewhere;
        }
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

    async fn begin(
        &self,
        env: &str,
        trigger: Trigger,
        tick: Option<&str>,
    ) -> Result<Begun, TriggerError> {
        // One begin at a time in this process: checking for a run, claiming the lease and
        // recording the new run are one step, so two triggers can never both start or both
        // miss each other. Across processes the lease's claim decides.
        let _serial = self.begin_lock.lock().await;
        if let Some(r) = self.env_state(env).running {
            return Ok(Begun::Running(r.id));
        }
        let started_at = crate::store::now_text();
        let claimant = leader::Claimant {
            env,
            holder: &self.replica,
            ttl: self.lease_ttl(),
            trigger,
            started_at: &started_at,
            tick,
        };
        let (id, lease) = match leader::begin_run(&self.db, &claimant).await? {
            leader::Begin::Claimed {
                id,
                lease,
                previous,
                interrupted,
            } => {
                if interrupted > 0 {
                    tracing::warn!(
                        env,
                        runs = interrupted,
                        previous = previous.as_deref().unwrap_or("unknown"),
                        "unfinished sync runs of a stopped leader marked interrupted"
                    );
                }
                (id, lease)
            }
            leader::Begin::Led { leader, run_id } => {
                return Ok(Begun::Led {
                    leader,
                    run_id: run_id.unwrap_or(0),
                });
            }
            leader::Begin::TickTaken(id) => return Ok(Begun::TickTaken(id)),
        };
        let mut s = self.state.lock().map_err(|_| poisoned())?;
        s.entry(env.to_string()).or_default().running = Some(RunningRun {
            id,
            trigger,
            started_at,
            progress: Arc::new(Progress::new()),
        });
        Ok(Begun::Started(id, lease))
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

    /// Starts a run in the background (or reports the one under way, here or on another
    /// replica).
    pub async fn trigger(
        self: &Arc<Self>,
        env: &str,
        trigger: Trigger,
    ) -> Result<Triggered, TriggerError> {
        let e = self.environment(env)?;
        let (run_id, status, leader) = match self.begin(env, trigger, None).await? {
            Begun::Started(id, lease) => {
                self.spawn_run(e, id, lease);
                (id, TriggerStatus::Started, None)
            }
            Begun::Running(id) | Begun::TickTaken(id) => (id, TriggerStatus::AlreadyRunning, None),
            Begun::Led { leader, run_id } => {
                (run_id, TriggerStatus::AlreadyRunning, Some(leader.holder))
            }
        };
        Ok(Triggered {
            environment: env.to_string(),
            run_id,
            status,
            leader,
        })
    }

    /// A scheduled tick (`tick`: its time as the schedule names it, RFC 3339): every replica
    /// tries, one starts the run, the others find it taken.
    pub async fn tick(self: &Arc<Self>, env: &str, tick: &str) -> Result<Ticked, TriggerError> {
        let e = self.environment(env)?;
        Ok(
            match self.begin(env, Trigger::Schedule, Some(tick)).await? {
                Begun::Started(id, lease) => {
                    self.spawn_run(e, id, lease);
                    Ticked::Started(id)
                }
                Begun::Running(id) => Ticked::Running(id),
                Begun::Led { leader, .. } => Ticked::Led(leader.holder),
                Begun::TickTaken(id) => Ticked::Taken(id),
            },
        )
    }

    fn spawn_run(self: &Arc<Self>, e: Arc<Environment>, id: i64, lease: Lease) {
        let engine = self.clone();
        self.tasks.spawn(async move {
            engine.execute(&e, id, lease).await;
        });
    }

    /// Runs now and waits; `Busy` when a run was already under way. From the command line, a
    /// lease another process holds is watched first: a holder that stopped (killed mid-run)
    /// is outlasted and its run taken over, a live one answers `Busy`.
    pub async fn run_now(&self, env: &str, trigger: Trigger) -> Result<RunNow, TriggerError> {
        let e = self.environment(env)?;
        let mut begun = self.begin(env, trigger, None).await?;
        if trigger == Trigger::Cli
            && matches!(begun, Begun::Led { .. })
            && leader::outlasts(&self.db, env).await?
        {
            begun = self.begin(env, trigger, None).await?;
        }
        Ok(match begun {
            Begun::Started(id, lease) => RunNow::Ran(self.execute(&e, id, lease).await),
            Begun::Running(run_id) | Begun::TickTaken(run_id) => RunNow::Busy {
                run_id,
                leader: None,
            },
            Begun::Led { leader, run_id } => RunNow::Busy {
                run_id,
                leader: Some(leader.holder),
            },
        })
    }

    async fn execute(&self, env: &Environment, id: i64, lease: Lease) -> RunReport {
        let span = tracing::info_span!("sync_run", env = %env.name(), run_id = id);
        self.execute_in_span(env, id, lease).instrument(span).await
    }

    async fn execute_in_span(&self, env: &Environment, id: i64, lease: Lease) -> RunReport {
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
        tracing::info!(env = %name, run_id = id, replica = %self.replica, ticket = lease.ticket, "sync run started");
        let renewal = leader::Renewal::start(self.db.clone(), lease.clone());
        let result = self
            .work_with_progress(env, id, &lease, &renewal, &progress)
            .await;
        drop(renewal);
        let unreachable = matches!(
            result,
            Err(SyncError::Palette(
                PaletteError::Unreachable { .. } | PaletteError::Timeout { .. }
            ))
        );
        // A success was recorded in the transaction of its last write; a failure keeps the
        // counts its batches recorded (and never overwrites a run its last write ended).
        let recorded = sync_runs::recorded_success(&self.db, id)
            .await
            .unwrap_or(false);
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
        // The lease goes before the run is marked over: whoever sees no run can take it.
        self.after_run(&report, &progress, unreachable, &lease)
            .await;
        report
    }

    /// The run itself, bounded by the run timeout, shutdown and its lease, logging its
    /// progress meanwhile.
    async fn work_with_progress(
        &self,
        env: &Environment,
        id: i64,
        lease: &Lease,
        renewal: &leader::Renewal,
        progress: &Progress,
    ) -> Result<Counts, SyncError> {
        let timeout = Duration::from_secs(self.config.run_timeout_seconds);
        let run = run::run(env, &self.db, &self.config, id, lease, progress);
        let work = async {
            tokio::select! {
                r = tokio::time::timeout(timeout, guard::contained(run)) => {
                    r.unwrap_or(Err(SyncError::TimedOut(self.config.run_timeout_seconds)))
                }
                _ = self.shutdown.cancelled() => Err(SyncError::Cancelled),
                // Another replica leads now: no point fetching what this run may not write.
                lost = renewal.lost() => Err(SyncError::LeaseLost(lost)),
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

    /// What follows a run: the lease given back, the state updated, the database tidied and
    /// the reports counted ahead after a success, and one log line.
    async fn after_run(
        &self,
        r: &RunReport,
        progress: &Progress,
        unreachable: bool,
        lease: &Lease,
    ) {
        let success = r.outcome == RunOutcome::Success;
        if success {
            crate::store::maintenance::checkpoint(&self.db).await;
        }
        // The run's listings and details are freed by now; give their pages back.
        tokio::task::spawn_blocking(crate::memory::release_free_heap);
        if let Err(e) = leases::release(&self.db, lease).await {
            // It expires by itself within its time to live.
            tracing::warn!(env = %r.environment, error = %e, "cannot release the sync lease");
        }
        // The end as recorded, which the other replicas read: all report the same instant.
        let finished = if success {
            let at = sync_runs::finished_at(&self.db, r.run_id)
                .await
                .ok()
                .flatten();
            at.as_deref().and_then(parse_time)
        } else {
            None
        };
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
                entry.last_success_at = Some(finished.unwrap_or_else(Utc::now));
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
