//! Pacing of Palette calls: one adaptive token bucket per rate-limit prefix and environment.
//!
//! Not `governor`: its quota is fixed once built and its waiters are served in no particular
//! order, while this needs a rate that drops on a 429 and recovers, a pause every caller of the
//! prefix observes, and people's calls served before the sync's. The arithmetic is a pure
//! [`BucketCore`] over explicit instants (unit-tested); [`Bucket`] adds waiting and priority.
//!
//! - The bucket holds half of Palette's maximum (`rate × burst / 2`): what the client sends in
//!   a burst then never empties Palette's own bucket, so network jitter cannot cause a 429.
//! - A 429 pauses the prefix for [`PAUSE`] for every caller, empties the bucket and halves the
//!   rate (once per pause, however many calls in flight were refused), down to
//!   [`MIN_FRACTION`] of the configured rate. The rate then recovers linearly, by
//!   [`RECOVER_PER_SECOND`] of the configured rate each second without a 429.
//! - People go first, within a share: while the sync waits on a prefix, people's calls take at
//!   most [`PEOPLE_SHARE`] of its tokens (counted over the last seconds, [`SHARE_WINDOW`]), so
//!   a flood of reads slows the sync down by half at worst instead of stopping it; a person
//!   then waits for one sync call at most, never behind the sync's queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::limits::{self, Limit};
use crate::config::RateLimitsConfig;

pub const PAUSE: Duration = Duration::from_secs(1);
pub const DROP_FACTOR: f64 = 0.5;
pub const MIN_FRACTION: f64 = 0.05;
pub const RECOVER_PER_SECOND: f64 = 0.05;
/// The most of a prefix's tokens people take while the sync waits for one.
pub const PEOPLE_SHARE: f64 = 0.5;
/// Tokens taken count for the share with a weight halving every this long.
pub const SHARE_WINDOW: Duration = Duration::from_secs(2);

/// Who is waiting: people go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// A person or agent waits for the answer (kubeconfig, read-through, creation...).
    Interactive,
    /// The sync: waits behind every interactive call on the same prefix.
    Background,
}

/// The pure state of one bucket.
#[derive(Debug, Clone)]
pub struct BucketCore {
    configured: f64,
    rate: f64,
    capacity: f64,
    tokens: f64,
    updated: Instant,
    paused_until: Option<Instant>,
    /// Tokens taken lately by people and by the sync (decaying weights).
    people: f64,
    sync: f64,
}

impl BucketCore {
    pub fn new(limit: Limit, now: Instant) -> BucketCore {
        let rate = limit.rate.max(0.01);
        let capacity = (limit.max() / 2.0).max(1.0);
        BucketCore {
            configured: rate,
            rate,
            capacity,
            tokens: capacity,
            updated: now,
            paused_until: None,
            people: 0.0,
            sync: 0.0,
        }
    }

    /// People's part of the tokens taken lately (0 when none were).
    pub fn people_share(&self) -> f64 {
        let all = self.people + self.sync;
        if all > 0.0 { self.people / all } else { 0.0 }
    }

    /// Takes a token for `who` ([`BucketCore::take`]), counting it towards the share.
    pub fn take_for(&mut self, who: Priority, now: Instant) -> Option<Duration> {
        let wait = self.take(now);
        if wait.is_none() {
            match who {
                Priority::Interactive => self.people += 1.0,
                Priority::Background => self.sync += 1.0,
            }
        }
        wait
    }

    /// Current rate (requests per second).
    pub fn rate(&self) -> f64 {
        self.rate
    }

    fn advance(&mut self, now: Instant) {
        if now > self.updated {
            let halvings = (now - self.updated).as_secs_f64() / SHARE_WINDOW.as_secs_f64();
            let keep = 0.5f64.powf(halvings);
            self.people *= keep;
            self.sync *= keep;
        }
        let mut from = self.updated;
        if let Some(until) = self.paused_until {
            if now < until {
                self.updated = now;
                return;
            }
            from = from.max(until);
            self.paused_until = None;
        }
        if now > from {
            let dt = (now - from).as_secs_f64();
            self.rate =
                (self.rate + self.configured * RECOVER_PER_SECOND * dt).min(self.configured);
            self.tokens = (self.tokens + self.rate * dt).min(self.capacity);
        }
        self.updated = self.updated.max(now);
    }

    /// Takes a token (`None`), or says how long to wait before asking again.
    pub fn take(&mut self, now: Instant) -> Option<Duration> {
        self.advance(now);
        if let Some(until) = self.paused_until {
            return Some(until - now);
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }

    /// How long until a token would be there, without taking it.
    pub fn next_in(&mut self, now: Instant) -> Duration {
        self.advance(now);
        match self.paused_until {
            Some(until) => until - now,
            None if self.tokens >= 1.0 => Duration::ZERO,
            None => Duration::from_secs_f64((1.0 - self.tokens) / self.rate),
        }
    }

    /// Palette answered 429: pause, empty the bucket, slow down (once per pause).
    pub fn throttled(&mut self, now: Instant) {
        self.advance(now);
        if self.paused_until.is_some() {
            return;
        }
        self.rate = (self.rate * DROP_FACTOR).max(self.configured * MIN_FRACTION);
        self.tokens = 0.0;
        self.paused_until = Some(now + PAUSE);
    }
}

/// One prefix's bucket, shared by every caller of the environment.
pub struct Bucket {
    core: Mutex<BucketCore>,
    interactive_waiting: AtomicUsize,
    background_waiting: AtomicUsize,
    /// 429s Palette answered on this prefix.
    pub throttles: AtomicU64,
}

/// The deadline passes before a token would be there.
#[derive(Debug)]
pub struct TooLate;

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Bucket {
    pub fn new(limit: Limit) -> Bucket {
        Bucket {
            core: Mutex::new(BucketCore::new(limit, Instant::now())),
            interactive_waiting: AtomicUsize::new(0),
            background_waiting: AtomicUsize::new(0),
            throttles: AtomicU64::new(0),
        }
    }

    pub fn rate(&self) -> f64 {
        self.core.lock().map(|c| c.rate()).unwrap_or(0.0)
    }

    /// Waits for a token. An interactive caller gives up at once when `deadline` would pass
    /// first. Background callers wait while any interactive one does, unless people have
    /// taken their share lately; then people wait for the sync's next call.
    pub async fn acquire(
        &self,
        priority: Priority,
        deadline: Option<Instant>,
    ) -> Result<(), TooLate> {
        let counter = match priority {
            Priority::Interactive => &self.interactive_waiting,
            Priority::Background => &self.background_waiting,
        };
        counter.fetch_add(1, Ordering::AcqRel);
        let _waiting = Waiting(counter);
        loop {
            let now = Instant::now();
            let wait = {
                let Ok(mut core) = self.core.lock() else {
                    return Ok(());
                };
                if self.yields(priority, &core) {
                    // Come back when the next token is due; the other side takes it first.
                    Some(
                        core.next_in(now)
                            .max(Duration::from_secs_f64(1.0 / core.rate())),
                    )
                } else {
                    core.take_for(priority, now)
                }
            };
            let Some(wait) = wait else {
                return Ok(());
            };
            if deadline.is_some_and(|d| now + wait > d) {
                return Err(TooLate);
            }
            tokio::time::sleep(wait).await;
        }
    }

    fn yields(&self, priority: Priority, core: &BucketCore) -> bool {
        let people = self.interactive_waiting.load(Ordering::Acquire) > 0;
        let sync = self.background_waiting.load(Ordering::Acquire) > 0;
        yields(priority, people, sync, core.people_share())
    }

    pub fn throttled(&self) {
        self.throttles.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut core) = self.core.lock() {
            core.throttled(Instant::now());
        }
    }
}

/// Whether `priority` lets the other side take the next token (pure): the sync yields to
/// waiting people, people yield to a waiting sync once their `share` is [`PEOPLE_SHARE`].
pub fn yields(priority: Priority, people_waiting: bool, sync_waiting: bool, share: f64) -> bool {
    let over_share = share >= PEOPLE_SHARE;
    match priority {
        Priority::Background => people_waiting && !over_share,
        Priority::Interactive => sync_waiting && over_share,
    }
}

/// The buckets of one environment, created on first use of a prefix.
pub struct Pacer {
    config: RateLimitsConfig,
    buckets: Mutex<HashMap<String, Arc<Bucket>>>,
}

impl Pacer {
    pub fn new(config: RateLimitsConfig) -> Pacer {
        Pacer {
            config,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The limit this client keeps to on `prefix`.
    pub fn limit(&self, prefix: &str) -> Limit {
        self.config.limit(prefix)
    }

    /// The bucket `path` counts against, and its prefix.
    pub fn bucket(&self, path: &str) -> (String, Arc<Bucket>) {
        let prefix = limits::prefix(path);
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let bucket = buckets
            .entry(prefix.clone())
            .or_insert_with(|| Arc::new(Bucket::new(self.config.limit(&prefix))))
            .clone();
        (prefix, bucket)
    }

    /// (prefix, 429s, current rate) of every prefix used so far.
    pub fn snapshot(&self) -> Vec<(String, u64, f64)> {
        let buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut out: Vec<_> = buckets
            .iter()
            .map(|(p, b)| (p.clone(), b.throttles.load(Ordering::Relaxed), b.rate()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_rested_bucket_allows_half_of_palettes_maximum_then_the_rate() {
        let t0 = Instant::now();
        let mut b = BucketCore::new(Limit::DEFAULT, t0);
        for _ in 0..25 {
            assert_eq!(b.take(t0), None);
        }
        let wait = b.take(t0).expect("empty");
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        // One second later: ten more, no more.
        let t1 = t0 + Duration::from_secs(1);
        for _ in 0..10 {
            assert_eq!(b.take(t1), None);
        }
        assert!(b.take(t1).is_some());
    }

    #[test]
    fn a_429_pauses_halves_the_rate_once_and_the_rate_recovers() {
        let t0 = Instant::now();
        let mut b = BucketCore::new(Limit::DEFAULT, t0);
        b.throttled(t0);
        // Eight calls in flight all refused: still one halving.
        for _ in 0..8 {
            b.throttled(t0 + ms(10));
        }
        assert_eq!(b.rate(), 5.0);
        assert_eq!(b.take(t0 + ms(500)), Some(ms(500)), "paused for everyone");
        // After the pause, the bucket starts empty: the first token is 1/rate away.
        let after = t0 + PAUSE;
        let wait = b.take(after).expect("empty after a 429");
        assert!((wait.as_secs_f64() - 0.2).abs() < 1e-6, "{wait:?}");
        // Recovery: 5% of the configured rate per second, capped at it.
        let later = after + Duration::from_secs(5);
        b.next_in(later);
        assert!((b.rate() - 7.5).abs() < 1e-6, "{}", b.rate());
        b.next_in(later + Duration::from_secs(60));
        assert_eq!(b.rate(), 10.0);
    }

    #[test]
    fn repeated_429s_never_drop_below_the_floor() {
        let mut t = Instant::now();
        let mut b = BucketCore::new(Limit::DEFAULT, t);
        for _ in 0..20 {
            b.throttled(t);
            t += PAUSE;
        }
        assert!(
            (b.rate() - 10.0 * MIN_FRACTION).abs() < 0.05,
            "{}",
            b.rate()
        );
    }

    #[tokio::test]
    async fn people_take_the_next_token_before_the_sync() {
        let bucket = Arc::new(Bucket::new(Limit {
            rate: 1.0,
            burst: 2.0,
        }));
        // Capacity 1: the first call empties it.
        bucket.acquire(Priority::Background, None).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, p) in [
            Priority::Background,
            Priority::Background,
            Priority::Interactive,
        ]
        .into_iter()
        .enumerate()
        {
            let (bucket, order) = (bucket.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                // Background callers queue first.
                tokio::time::sleep(ms(10 * i as u64)).await;
                bucket.acquire(p, None).await.unwrap();
                order.lock().unwrap().push(p);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(order.lock().unwrap()[0], Priority::Interactive);
    }

    #[test]
    fn under_contention_people_take_half_of_the_tokens_and_the_sync_the_rest() {
        let mut t = Instant::now();
        let mut b = BucketCore::new(Limit::DEFAULT, t);
        let (mut people, mut sync) = (0, 0);
        // Both sides always waiting: each token goes to whoever does not yield.
        for _ in 0..200 {
            let share = b.people_share();
            let who = if yields(Priority::Background, true, true, share) {
                Priority::Interactive
            } else {
                assert!(yields(Priority::Interactive, true, true, share));
                Priority::Background
            };
            while b.take_for(who, t).is_some() {
                t += ms(10);
            }
            match who {
                Priority::Interactive => people += 1,
                Priority::Background => sync += 1,
            }
        }
        assert!((95..=105).contains(&people), "people {people}, sync {sync}");
        // Alone, either side takes every token.
        assert!(!yields(Priority::Interactive, true, false, 1.0));
        assert!(!yields(Priority::Background, false, true, 0.0));
    }

    #[test]
    fn the_share_forgets_old_tokens() {
        let t0 = Instant::now();
        let mut b = BucketCore::new(Limit::DEFAULT, t0);
        for _ in 0..10 {
            assert_eq!(b.take_for(Priority::Interactive, t0), None);
        }
        assert_eq!(b.people_share(), 1.0);
        // Ten sync tokens much later outweigh ten people's tokens long past.
        let later = t0 + SHARE_WINDOW * 10;
        for _ in 0..10 {
            assert_eq!(b.take_for(Priority::Background, later), None);
        }
        assert!(b.people_share() < 0.01, "{}", b.people_share());
    }

    #[tokio::test]
    async fn a_flood_of_people_leaves_the_sync_its_share() {
        let bucket = Arc::new(Bucket::new(Limit {
            rate: 50.0,
            burst: 2.0,
        }));
        let flood_ends = Instant::now() + Duration::from_secs(3);
        let mut people = Vec::new();
        for _ in 0..8 {
            let bucket = bucket.clone();
            people.push(tokio::spawn(async move {
                while Instant::now() < flood_ends {
                    bucket.acquire(Priority::Interactive, None).await.unwrap();
                }
            }));
        }
        tokio::time::sleep(ms(50)).await;
        let started = Instant::now();
        for _ in 0..10 {
            bucket.acquire(Priority::Background, None).await.unwrap();
        }
        // 10 tokens at half of 50/s: 0.4 s; starved, it would wait out the 3 s flood.
        let took = started.elapsed();
        for p in people {
            p.await.unwrap();
        }
        assert!(took < Duration::from_secs(2), "the sync waited {took:?}");
    }

    #[tokio::test]
    async fn an_interactive_call_gives_up_when_its_deadline_would_pass() {
        let bucket = Bucket::new(Limit {
            rate: 1.0,
            burst: 2.0,
        });
        bucket.acquire(Priority::Interactive, None).await.unwrap();
        bucket.throttled();
        let deadline = Instant::now() + ms(500);
        assert!(
            bucket
                .acquire(Priority::Interactive, Some(deadline))
                .await
                .is_err()
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        assert!(
            bucket
                .acquire(Priority::Interactive, Some(deadline))
                .await
                .is_ok()
        );
    }
}
