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
//! - Among people, fair shares: each call names its [`Party`] (the bearer subject, then the
//!   Palette user). The next token goes to the waiting party whose subject, then whose user,
//!   took the fewest tokens lately, so one caller's flood cannot queue another person behind
//!   it. A party may keep at most [`FAIR_QUEUE`] worth of calls waiting (at the current rate);
//!   past that its call is refused at once ([`Refused::OverShare`], a 429 with `Retry-After`
//!   from the service) and Palette is never asked.

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
/// A party may keep this long's worth of calls waiting on a prefix, at its current rate.
pub const FAIR_QUEUE: Duration = Duration::from_secs(2);
/// ... and never fewer calls than this.
pub const MIN_FAIR_QUEUE: usize = 2;

/// Who a person's call is for. Fair shares go per subject first (a flood from one bearer
/// cannot starve another), then per Palette user within it (people behind one shared
/// Backstage bearer share its part fairly).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Party {
    pub subject: Arc<str>,
    /// The verified Palette user, or a stand-in (`key` for the environment's key).
    pub user: Arc<str>,
}

impl Party {
    pub fn new(subject: &str, user: &str) -> Party {
        Party {
            subject: subject.into(),
            user: user.into(),
        }
    }
}

/// A party's calls on one prefix: waiting now, and tokens taken lately (decaying).
#[derive(Debug, Clone, Default)]
struct Load {
    waiting: usize,
    served: f64,
}

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
    /// People's calls per party; parties with nothing waiting and little taken are forgotten.
    parties: HashMap<Party, Load>,
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
            parties: HashMap::new(),
        }
    }

    /// How many calls one party may keep waiting: [`FAIR_QUEUE`] at the current rate.
    pub fn allowance(&self) -> usize {
        ((self.rate * FAIR_QUEUE.as_secs_f64()).ceil() as usize).max(MIN_FAIR_QUEUE)
    }

    /// Lets `party` wait for a token, or says when to come back: its queue is full.
    pub fn admit(&mut self, party: &Party, now: Instant) -> Result<(), Duration> {
        self.advance(now);
        let allowance = self.allowance();
        let load = self.parties.entry(party.clone()).or_default();
        if load.waiting >= allowance {
            // By then its own queue has drained.
            return Err(Duration::from_secs_f64(load.waiting as f64 / self.rate));
        }
        load.waiting += 1;
        Ok(())
    }

    /// `party` no longer waits (it took its token or gave up).
    pub fn leave(&mut self, party: &Party) {
        if let Some(load) = self.parties.get_mut(party) {
            load.waiting = load.waiting.saturating_sub(1);
        }
    }

    /// Calls `party` has waiting.
    pub fn waiting(&self, party: &Party) -> usize {
        self.parties.get(party).map_or(0, |l| l.waiting)
    }

    /// Whether `party` lets another waiting party take the next token: one whose subject took
    /// fewer tokens lately, or of the same subject, whose user did.
    pub fn party_yields(&self, party: &Party) -> bool {
        let subject_served = |subject: &Arc<str>| -> f64 {
            self.parties
                .iter()
                .filter(|(p, _)| &p.subject == subject)
                .map(|(_, l)| l.served)
                .sum()
        };
        let mine = (
            subject_served(&party.subject),
            self.parties.get(party).map_or(0.0, |l| l.served),
        );
        self.parties.iter().any(|(other, load)| {
            if other == party || load.waiting == 0 {
                return false;
            }
            let theirs = (subject_served(&other.subject), load.served);
            if other.subject == party.subject {
                theirs.1 < mine.1
            } else {
                theirs.0 < mine.0
            }
        })
    }

    /// People's part of the tokens taken lately (0 when none were).
    pub fn people_share(&self) -> f64 {
        let all = self.people + self.sync;
        if all > 0.0 { self.people / all } else { 0.0 }
    }

    /// Takes a token for `who` ([`BucketCore::take`]), counting it towards the share and
    /// towards `party`'s.
    pub fn take_for(
        &mut self,
        who: Priority,
        party: Option<&Party>,
        now: Instant,
    ) -> Option<Duration> {
        let wait = self.take(now);
        if wait.is_none() {
            match who {
                Priority::Interactive => self.people += 1.0,
                Priority::Background => self.sync += 1.0,
            }
            if let Some(load) = party.and_then(|p| self.parties.get_mut(p)) {
                load.served += 1.0;
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
            self.parties.retain(|_, l| {
                l.served *= keep;
                l.waiting > 0 || l.served >= 0.01
            });
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

/// Why a call did not get a token.
#[derive(Debug, PartialEq)]
pub enum Refused {
    /// The deadline passes before a token would be there.
    TooLate,
    /// Its party already keeps its fair queue waiting on this prefix: come back after this.
    OverShare {
        waiting: usize,
        retry_after: Duration,
    },
}

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A party's place in the queue, given back however the wait ends (token, deadline, cancel).
struct Queued<'a> {
    core: &'a Mutex<BucketCore>,
    party: &'a Party,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let mut core = match self.core.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        core.leave(self.party);
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
    /// first, or when its `party` already has its fair queue waiting. Background callers wait
    /// while any interactive one does, unless people have taken their share lately; then
    /// people wait for the sync's next call. Among people, the least served party goes first.
    pub async fn acquire(
        &self,
        priority: Priority,
        party: Option<&Party>,
        deadline: Option<Instant>,
    ) -> Result<(), Refused> {
        let party = party.filter(|_| priority == Priority::Interactive);
        let _queued = match party {
            Some(p) => Some(self.admit(p)?),
            None => None,
        };
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
                let after_others = party.is_some_and(|p| core.party_yields(p));
                if self.yields(priority, &core) || after_others {
                    // Come back when the next token is due; the other side takes it first.
                    Some(
                        core.next_in(now)
                            .max(Duration::from_secs_f64(1.0 / core.rate())),
                    )
                } else {
                    core.take_for(priority, party, now)
                }
            };
            let Some(wait) = wait else {
                return Ok(());
            };
            if deadline.is_some_and(|d| now + wait > d) {
                return Err(Refused::TooLate);
            }
            tokio::time::sleep(wait).await;
        }
    }

    fn admit<'a>(&'a self, party: &'a Party) -> Result<Queued<'a>, Refused> {
        let mut core = match self.core.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        match core.admit(party, Instant::now()) {
            Ok(()) => Ok(Queued {
                core: &self.core,
                party,
            }),
            Err(retry_after) => Err(Refused::OverShare {
                waiting: core.waiting(party),
                retry_after,
            }),
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
        bucket
            .acquire(Priority::Background, None, None)
            .await
            .unwrap();
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
                bucket.acquire(p, None, None).await.unwrap();
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
            while b.take_for(who, None, t).is_some() {
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
            assert_eq!(b.take_for(Priority::Interactive, None, t0), None);
        }
        assert_eq!(b.people_share(), 1.0);
        // Ten sync tokens much later outweigh ten people's tokens long past.
        let later = t0 + SHARE_WINDOW * 10;
        for _ in 0..10 {
            assert_eq!(b.take_for(Priority::Background, None, later), None);
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
                    bucket
                        .acquire(Priority::Interactive, None, None)
                        .await
                        .unwrap();
                }
            }));
        }
        tokio::time::sleep(ms(50)).await;
        let started = Instant::now();
        for _ in 0..10 {
            bucket
                .acquire(Priority::Background, None, None)
                .await
                .unwrap();
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
        bucket
            .acquire(Priority::Interactive, None, None)
            .await
            .unwrap();
        bucket.throttled();
        let deadline = Instant::now() + ms(500);
        assert!(
            bucket
                .acquire(Priority::Interactive, None, Some(deadline))
                .await
                .is_err()
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        assert!(
            bucket
                .acquire(Priority::Interactive, None, Some(deadline))
                .await
                .is_ok()
        );
    }

    fn party(subject: &str, user: &str) -> Party {
        Party::new(subject, user)
    }

    #[test]
    fn a_party_past_its_fair_queue_is_refused_with_when_to_come_back() {
        let t0 = Instant::now();
        let mut b = BucketCore::new(Limit::DEFAULT, t0);
        let alice = party("user:default/alice", "alice@example.com");
        // 10/s for 2 s: 20 calls may wait.
        assert_eq!(b.allowance(), 20);
        for _ in 0..20 {
            assert_eq!(b.admit(&alice, t0), Ok(()));
        }
        assert_eq!(b.admit(&alice, t0), Err(Duration::from_secs(2)));
        // Another party is not concerned; a place given back is taken again.
        assert_eq!(b.admit(&party("user:default/bob", "bob@x"), t0), Ok(()));
        b.leave(&alice);
        assert_eq!(b.admit(&alice, t0), Ok(()));
        // A slowed-down prefix keeps fewer waiting, never fewer than the floor.
        b.throttled(t0);
        for _ in 0..10 {
            b.throttled(t0 + PAUSE * 2);
        }
        assert!(b.allowance() >= MIN_FAIR_QUEUE);
    }

    #[test]
    fn the_least_served_subject_then_user_goes_first() {
        let t0 = Instant::now();
        let mut b = BucketCore::new(Limit::DEFAULT, t0);
        let flood = party("user:default/alice", "alice@x");
        let (bob, backstage_carol, backstage_dan) = (
            party("user:default/bob", "bob@x"),
            party("plugin:backstage", "carol@x"),
            party("plugin:backstage", "dan@x"),
        );
        for _ in 0..5 {
            b.admit(&flood, t0).unwrap();
            assert_eq!(b.take_for(Priority::Interactive, Some(&flood), t0), None);
            b.leave(&flood);
        }
        b.admit(&flood, t0).unwrap();
        b.admit(&bob, t0).unwrap();
        // Bob took nothing lately: alice's waiting call lets him go first.
        assert!(b.party_yields(&flood));
        assert!(!b.party_yields(&bob));
        // Within one shared subject, its users take turns.
        b.leave(&bob);
        b.admit(&backstage_carol, t0).unwrap();
        b.take_for(Priority::Interactive, Some(&backstage_carol), t0);
        b.admit(&backstage_dan, t0).unwrap();
        assert!(b.party_yields(&backstage_carol));
        assert!(!b.party_yields(&backstage_dan));
        // Alone, a party never yields; old tokens are forgotten.
        b.leave(&backstage_carol);
        b.leave(&backstage_dan);
        assert!(!b.party_yields(&flood));
        b.next_in(t0 + SHARE_WINDOW * 20);
        assert_eq!(b.parties.len(), 1, "only the waiting party is kept");
    }

    #[tokio::test]
    async fn a_flood_from_one_caller_does_not_queue_another_person_behind_it() {
        let bucket = Arc::new(Bucket::new(Limit {
            rate: 5.0,
            burst: 2.0,
        }));
        let flood_ends = Instant::now() + Duration::from_secs(4);
        let alice = party("user:default/alice", "alice@x");
        let refused = Arc::new(AtomicUsize::new(0));
        let mut flood = Vec::new();
        for _ in 0..30 {
            let (bucket, alice, refused) = (bucket.clone(), alice.clone(), refused.clone());
            flood.push(tokio::spawn(async move {
                while Instant::now() < flood_ends {
                    let got = bucket
                        .acquire(Priority::Interactive, Some(&alice), None)
                        .await;
                    if got.is_err() {
                        refused.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(ms(100)).await;
                    }
                }
            }));
        }
        tokio::time::sleep(ms(500)).await;
        let bob = party("user:default/bob", "bob@x");
        for _ in 0..3 {
            let started = Instant::now();
            bucket
                .acquire(Priority::Interactive, Some(&bob), None)
                .await
                .unwrap();
            // At 5/s: 1/rate plus slack; behind alice's ten waiting calls it could be 2 s.
            let took = started.elapsed();
            assert!(took < ms(700), "bob waited {took:?} behind alice's flood");
        }
        for f in flood {
            f.await.unwrap();
        }
        assert!(
            refused.load(Ordering::Relaxed) > 0,
            "alice's excess is refused"
        );
    }
}
