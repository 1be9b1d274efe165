//! Rate and concurrency limits.
//!
//! **Rate** ([`RateLimiter`]): a token bucket per key, kept as GCRA state (one
//! "theoretical arrival time" per key, 8 bytes), the algorithm governor and
//! Envoy's local rate limit use. Memory is bounded: at most `max_keys` keys are
//! tracked (in 16 shards). A key whose bucket is full again holds no
//! information and is dropped when its shard needs room; when a shard is full of
//! keys still being limited, new keys share one overflow bucket instead of
//! evicting a limited key (which would hand it a fresh burst). A client spraying
//! keys therefore gets one bucket's worth of requests, and known clients keep
//! their own buckets.
//!
//! This is governor's GCRA written out, because the bound needs what governor's
//! keyed store does not offer: telling a known key from a new one when full.
//!
//! **Concurrency** ([`Concurrency`]): requests in flight per backend (a stream
//! counts until its response ends). Beyond the limit a request is refused at
//! once, never queued: load shedding, as Envoy's circuit breakers do.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_config::edge::RateLimit;

const SHARDS: usize = 16;

/// A keyed token bucket with bounded memory. Shared across reloads while its
/// config is unchanged.
#[derive(Debug)]
pub struct RateLimiter {
    pub(crate) config: RateLimit,
    /// Nanoseconds per token.
    interval: u64,
    /// How far ahead of now a key's arrival time may run: (burst - 1) intervals.
    tolerance: u64,
    shards: Vec<Mutex<Shard>>,
    overflow: Mutex<u64>,
    hasher: RandomState,
    epoch: Instant,
}

#[derive(Debug, Default)]
struct Shard {
    tat: HashMap<Box<str>, u64>,
    /// When this shard last dropped replenished keys (nanoseconds since epoch).
    last_sweep: u64,
}

impl RateLimiter {
    /// A limiter with `config`'s rate, burst and key bound.
    pub fn new(config: &RateLimit) -> RateLimiter {
        let interval = (1e9 / config.per_second).round().max(1.0) as u64;
        RateLimiter {
            config: config.clone(),
            interval,
            tolerance: interval.saturating_mul(u64::from(config.burst.max(1)) - 1),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            overflow: Mutex::new(0),
            hasher: RandomState::new(),
            epoch: Instant::now(),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Takes one token for `key`; `Err(wait)` when the bucket is empty, with
    /// how long until one is available.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = self.now();
        let shard = &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS];
        let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tat) = shard.tat.get_mut(key) {
            return self.take(tat, now);
        }
        let cap = self.config.max_keys.div_ceil(SHARDS).max(1);
        if shard.tat.len() >= cap {
            // Keys whose bucket has refilled are as good as absent. Sweep at
            // most once per token interval, so a spray cannot make every
            // request scan the shard.
            if now.saturating_sub(shard.last_sweep) >= self.interval.min(1_000_000_000) {
                shard.tat.retain(|_, tat| *tat > now);
                shard.last_sweep = now;
            }
            if shard.tat.len() >= cap {
                drop(shard);
                let mut tat = self.overflow.lock().unwrap_or_else(|e| e.into_inner());
                return self.take(&mut tat, now);
            }
        }
        let mut tat = now;
        let result = self.take(&mut tat, now);
        shard.tat.insert(key.into(), tat);
        result
    }

    /// GCRA: allowed when the key's arrival time is within `tolerance` of now.
    fn take(&self, tat: &mut u64, now: u64) -> Result<(), Duration> {
        let start = (*tat).max(now);
        if start - now > self.tolerance {
            return Err(Duration::from_nanos(start - now - self.tolerance));
        }
        *tat = start + self.interval;
        Ok(())
    }

    /// Keys tracked now (for `/status`).
    pub fn keys(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).tat.len())
            .sum()
    }
}

/// Requests in flight for one backend, shared across reloads.
#[derive(Debug, Default)]
pub struct Concurrency {
    in_flight: AtomicUsize,
}

impl Concurrency {
    /// A slot if fewer than `max` are taken.
    pub fn try_acquire(self: &Arc<Self>, max: usize) -> Option<Slot> {
        let mut current = self.in_flight.load(Ordering::Relaxed);
        loop {
            if current >= max {
                return None;
            }
            match self.in_flight.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(Slot(self.clone())),
                Err(now) => current = now,
            }
        }
    }

    /// Requests holding a slot now, for `/status`.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// One taken slot; released when dropped.
#[derive(Debug)]
pub struct Slot(Arc<Concurrency>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Open connections of the listener.
#[derive(Debug, Default)]
pub struct Connections {
    open: AtomicUsize,
}

impl Connections {
    /// Counts a new connection unless `max` are open.
    pub fn try_open(self: &Arc<Self>, max: Option<usize>) -> Option<ConnectionSlot> {
        let n = self.open.fetch_add(1, Ordering::AcqRel) + 1;
        if max.is_some_and(|m| n > m) {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(ConnectionSlot(self.clone()))
    }

    /// Client connections open now, for `/status`.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

/// One open connection; released when dropped.
#[derive(Debug)]
pub struct ConnectionSlot(Arc<Connections>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_config::edge::RateLimitKey;

    fn limiter(per_second: f64, burst: u32, max_keys: usize) -> RateLimiter {
        RateLimiter::new(&RateLimit {
            per_second,
            burst,
            key: RateLimitKey::ClientIp,
            max_keys,
            methods: Vec::new(),
        })
    }

    #[test]
    fn burst_then_refused_with_a_wait() {
        let l = limiter(1.0, 3, 100);
        for _ in 0..3 {
            assert!(l.check("a").is_ok());
        }
        let wait = l.check("a").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(l.check("b").is_ok(), "another key has its own bucket");
    }

    #[test]
    fn tokens_come_back_at_the_rate() {
        let l = limiter(1000.0, 1, 100);
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_err());
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.check("a").is_ok());
    }

    #[test]
    fn memory_is_bounded_and_known_keys_keep_their_bucket() {
        // One key per shard at most: 16 keys.
        let l = limiter(0.001, 1, 16);
        assert!(l.check("victim").is_ok());
        for i in 0..10_000 {
            let _ = l.check(&format!("spray-{i}"));
        }
        assert!(l.keys() <= 16, "{} keys tracked", l.keys());
        // The victim is still limited (its state was not evicted and reset).
        assert!(l.check("victim").is_err());
    }

    #[test]
    fn concurrency_slots() {
        let c = Arc::new(Concurrency::default());
        let a = c.try_acquire(2).unwrap();
        let _b = c.try_acquire(2).unwrap();
        assert!(c.try_acquire(2).is_none());
        drop(a);
        assert!(c.try_acquire(2).is_some());
        assert_eq!(c.in_flight(), 1);
    }

    #[test]
    fn connection_slots() {
        let c = Arc::new(Connections::default());
        let a = c.try_open(Some(1)).unwrap();
        assert!(c.try_open(Some(1)).is_none());
        drop(a);
        assert!(c.try_open(Some(1)).is_some());
        assert!(c.try_open(None).is_some());
    }
}
