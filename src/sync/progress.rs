//! What a running sync run is doing: its phase, done/total per kind, Palette calls and an
//! estimate of the time left. Shared by `/sync/status`, the progress log and `sync --once`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Listing,
    Details,
    Finishing,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Listing => "listing",
            Phase::Details => "details",
            Phase::Finishing => "finishing",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct DoneTotal {
    pub done: u64,
    pub total: u64,
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    phase_started: Instant,
    kinds: BTreeMap<&'static str, DoneTotal>,
    listed_at: Option<String>,
    /// When details started arriving (the rate behind the estimate).
    details_started: Option<Instant>,
}

/// Progress of one run; cheap to update from the run, read by anyone.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    /// Palette calls of the run (every attempt).
    pub calls: AtomicU64,
    inner: Mutex<Inner>,
}

/// A point-in-time view, as `/sync/status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProgressView {
    pub phase: Phase,
    pub kinds: BTreeMap<&'static str, DoneTotal>,
    pub palette_calls: u64,
    pub elapsed_seconds: f64,
    /// Time left at the rate details have arrived so far; `None` until there is a rate.
    pub eta_seconds: Option<f64>,
    /// When this run's listings were applied (the mirror answers from then on).
    pub listed_at: Option<String>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Progress {
    pub fn new() -> Progress {
        let now = Instant::now();
        Progress {
            started: now,
            calls: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                phase: Phase::Listing,
                phase_started: now,
                kinds: BTreeMap::new(),
                listed_at: None,
                details_started: None,
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> Option<R> {
        self.inner.lock().ok().map(|mut i| f(&mut i))
    }

    /// Enters `phase`; returns the phase left and how long it lasted.
    pub fn enter(&self, phase: Phase) -> Option<(Phase, f64)> {
        self.with(|i| {
            let left = (i.phase, i.phase_started.elapsed().as_secs_f64());
            i.phase = phase;
            i.phase_started = Instant::now();
            if phase == Phase::Details {
                i.details_started = Some(Instant::now());
            }
            left
        })
    }

    pub fn set_total(&self, kind: &'static str, total: u64) {
        self.with(|i| i.kinds.entry(kind).or_default().total = total);
    }

    pub fn add_done(&self, kind: &'static str, n: u64) {
        self.with(|i| i.kinds.entry(kind).or_default().done += n);
    }

    pub fn listed(&self, at: &str) {
        self.with(|i| i.listed_at = Some(at.to_string()));
    }

    pub fn listed_at(&self) -> Option<String> {
        self.with(|i| i.listed_at.clone()).flatten()
    }

    pub fn view(&self) -> Option<ProgressView> {
        let calls = self.calls.load(Ordering::Relaxed);
        self.with(|i| ProgressView {
            phase: i.phase,
            kinds: i.kinds.clone(),
            palette_calls: calls,
            elapsed_seconds: self.started.elapsed().as_secs_f64(),
            eta_seconds: i
                .details_started
                .and_then(|t| eta(&i.kinds, t.elapsed().as_secs_f64())),
            listed_at: i.listed_at.clone(),
        })
    }
}

/// Seconds left at the rate so far: remaining ÷ (done ÷ elapsed).
pub fn eta(kinds: &BTreeMap<&'static str, DoneTotal>, elapsed: f64) -> Option<f64> {
    let done: u64 = kinds.values().map(|k| k.done).sum();
    let total: u64 = kinds.values().map(|k| k.total).sum();
    if done == 0 || elapsed <= 0.0 {
        return None;
    }
    Some(total.saturating_sub(done) as f64 * elapsed / done as f64)
}

impl ProgressView {
    /// One line: phase, done/total per kind, calls, estimate.
    pub fn line(&self) -> String {
        let kinds: Vec<String> = self
            .kinds
            .iter()
            .map(|(k, d)| format!("{k} {}/{}", d.done, d.total))
            .collect();
        let eta = self
            .eta_seconds
            .map(|s| format!(", about {s:.0} s left"))
            .unwrap_or_default();
        format!(
            "{}: {}; {} Palette calls in {:.1} s{eta}",
            self.phase.as_str(),
            kinds.join(", "),
            self.palette_calls,
            self.elapsed_seconds
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_follows_the_rate_so_far() {
        let mut kinds = BTreeMap::new();
        kinds.insert(
            "clusters",
            DoneTotal {
                done: 0,
                total: 100,
            },
        );
        assert_eq!(eta(&kinds, 10.0), None);
        kinds.insert(
            "clusters",
            DoneTotal {
                done: 25,
                total: 100,
            },
        );
        kinds.insert(
            "profile_versions",
            DoneTotal {
                done: 25,
                total: 100,
            },
        );
        assert_eq!(eta(&kinds, 10.0), Some(30.0));
    }
}
