//! What a running sync run is doing: its phase, done/total per kind, Palette calls, the 429s
//! Palette answered (per rate-limit prefix) and an estimate of the time left. Shared by
//! `/sync/status`, the progress log and `sync --once`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;

use crate::palette::PaletteClient;

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
    unindexed: Option<u64>,
    /// When details started arriving (the rate behind the estimate).
    details_started: Option<Instant>,
}

/// Where a run's 429s are read: the environment's pacer, minus what it had counted when the
/// run began (the pacer counts for the environment's life, people's calls included).
struct Throttles {
    client: PaletteClient,
    before: BTreeMap<String, u64>,
}

impl std::fmt::Debug for Throttles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttles")
            .field("before", &self.before)
            .finish()
    }
}

impl Throttles {
    fn since(&self) -> BTreeMap<String, u64> {
        throttled_since(&self.before, self.client.pacer().snapshot())
    }
}

/// Per prefix, the 429s counted now beyond `before`; prefixes without one left out.
pub fn throttled_since(
    before: &BTreeMap<String, u64>,
    now: Vec<(String, u64, f64)>,
) -> BTreeMap<String, u64> {
    now.into_iter()
        .filter_map(|(prefix, n, _)| {
            let n = n.saturating_sub(before.get(&prefix).copied().unwrap_or(0));
            (n > 0).then_some((prefix, n))
        })
        .collect()
}

/// Progress of one run; cheap to update from the run, read by anyone.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    /// Palette calls of the run (every attempt).
    pub calls: AtomicU64,
    inner: Mutex<Inner>,
    throttles: Mutex<Option<Throttles>>,
}

/// A point-in-time view, as `/sync/status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProgressView {
    pub phase: Phase,
    pub kinds: BTreeMap<&'static str, DoneTotal>,
    pub palette_calls: u64,
    /// 429s Palette answered since the run began, over every prefix.
    pub throttled: u64,
    /// The same per rate-limit prefix (`/v1/dashboard`, ...), only prefixes with one.
    pub throttled_by_prefix: BTreeMap<String, u64>,
    pub elapsed_seconds: f64,
    /// Time left at the rate details have arrived so far; `None` until there is a rate.
    pub eta_seconds: Option<f64>,
    /// When this run's listings were applied (the mirror answers from then on).
    pub listed_at: Option<String>,
    /// Listed clusters whose reverse index waits for their details (their listing left the
    /// packs out); answers that depend on the index are partial until this is 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clusters_without_index: Option<u64>,
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
                unindexed: None,
                details_started: None,
            }),
            throttles: Mutex::new(None),
        }
    }

    /// Counts the 429s `client` sees from now on as this run's.
    pub fn watch_throttles(&self, client: &PaletteClient) {
        let before = throttled_since(&BTreeMap::new(), client.pacer().snapshot());
        if let Ok(mut t) = self.throttles.lock() {
            *t = Some(Throttles {
                client: client.clone(),
                before,
            });
        }
    }

    /// 429s since the run began, per prefix.
    pub fn throttled(&self) -> BTreeMap<String, u64> {
        self.throttles
            .lock()
            .ok()
            .and_then(|t| t.as_ref().map(Throttles::since))
            .unwrap_or_default()
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

    /// Clusters without an index, as of the run's last write.
    pub fn set_unindexed(&self, n: u64) {
        self.with(|i| i.unindexed = Some(n));
    }

    /// `None` until the listings are applied.
    pub fn unindexed(&self) -> Option<u64> {
        self.with(|i| i.unindexed).flatten()
    }

    pub fn view(&self) -> Option<ProgressView> {
        let calls = self.calls.load(Ordering::Relaxed);
        let throttled_by_prefix = self.throttled();
        self.with(|i| ProgressView {
            phase: i.phase,
            kinds: i.kinds.clone(),
            palette_calls: calls,
            throttled: throttled_by_prefix.values().sum(),
            throttled_by_prefix,
            elapsed_seconds: self.started.elapsed().as_secs_f64(),
            eta_seconds: i
                .details_started
                .and_then(|t| eta(&i.kinds, t.elapsed().as_secs_f64())),
            listed_at: i.listed_at.clone(),
            clusters_without_index: i.unindexed,
        })
    }
}

/// Seconds left at the rate so far. Kinds fetch side by side, each on its own rate-limit
/// prefix, so the run ends with its slowest kind: per kind remaining ÷ (done ÷ elapsed), the
/// longest of them. A kind with none done yet has no rate (it is left out); `None` until some
/// kind with work left has one.
pub fn eta(kinds: &BTreeMap<&'static str, DoneTotal>, elapsed: f64) -> Option<f64> {
    if elapsed <= 0.0 {
        return None;
    }
    let mut longest: Option<f64> = None;
    for k in kinds.values().filter(|k| k.done > 0) {
        let secs = k.total.saturating_sub(k.done) as f64 * elapsed / k.done as f64;
        longest = Some(longest.map_or(secs, |l| l.max(secs)));
    }
    longest
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
            "{}: {}; {} Palette calls, {} in {:.1} s{eta}",
            self.phase.as_str(),
            kinds.join(", "),
            self.palette_calls,
            self.throttles_text(),
            self.elapsed_seconds
        )
    }

    /// "3 429s (/v1/dashboard 2, /v1/users 1)", or "no 429".
    pub fn throttles_text(&self) -> String {
        if self.throttled == 0 {
            return "no 429".to_string();
        }
        let by: Vec<String> = self
            .throttled_by_prefix
            .iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect();
        format!("{} 429s ({})", self.throttled, by.join(", "))
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
        // Side by side, the run lasts as long as its slowest kind.
        kinds.insert(
            "profile_versions",
            DoneTotal {
                done: 100,
                total: 100,
            },
        );
        kinds.insert(
            "clusters",
            DoneTotal {
                done: 10,
                total: 100,
            },
        );
        assert_eq!(eta(&kinds, 10.0), Some(90.0));
    }

    #[test]
    fn throttles_are_counted_since_the_run_began() {
        let before = BTreeMap::from([("/v1/dashboard".to_string(), 4)]);
        let now = vec![
            ("/v1/dashboard".to_string(), 7, 5.0),
            ("/v1/users".to_string(), 0, 10.0),
            ("/v1/clusterprofiles".to_string(), 2, 50.0),
        ];
        let since = throttled_since(&before, now);
        assert_eq!(
            since,
            BTreeMap::from([
                ("/v1/clusterprofiles".to_string(), 2),
                ("/v1/dashboard".to_string(), 3),
            ])
        );
    }
}
