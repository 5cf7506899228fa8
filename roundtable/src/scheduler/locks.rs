//! Fleet-wide coordination in Redis, so several roundtable instances can run side by side.
//!
//! Two keys per job (ops.md §1.2, redesigned around ticks):
//! - `<service>.loops.<job>.last_tick`: the newest tick any instance claimed (epoch ms). A tick
//!   is claimed by an atomic compare-and-set that only moves forward, so each tick runs at most
//!   once across the fleet, and an instance whose clock lags can never re-run an older tick. The
//!   key expires a while after the next tick; it only needs to outlive the tick it guards.
//! - `<service>.loops.<job>.running`: held while a run is in progress (value = a random token,
//!   TTL = interval × lock multiplier, renewed while the run lasts). A tick whose job is still
//!   running elsewhere is skipped, so runs never overlap even when one outlasts its interval. It
//!   is released by compare-and-delete on the token, so one instance never frees another's lock;
//!   a crashed holder's lock simply expires.
//!
//! Keys carry the Redis key prefix (`REDIS_KEY_PREFIX`) so tests can share one server.

use std::sync::OnceLock;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;

/// Extra lifetime of a claimed tick beyond the following tick, absorbing clock skew between
/// instances.
const TICK_KEY_MARGIN: Duration = Duration::from_secs(60);

/// A Redis command for a lock failed (Redis unreachable, ...).
#[derive(Debug, thiserror::Error)]
#[error("redis lock operation failed: {0}")]
pub struct LockError(#[from] redis::RedisError);

/// The lock keys of one service's jobs.
#[derive(Clone)]
pub struct FleetLocks {
    conn: ConnectionManager,
    namespace: String,
}

impl std::fmt::Debug for FleetLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetLocks")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// A held no-overlap lock: its key and the token proving ownership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningLock {
    pub key: String,
    pub token: String,
}

impl FleetLocks {
    /// `key_prefix` is the Redis key prefix; `service` the service name (`roundtable`).
    pub fn new(conn: ConnectionManager, key_prefix: &str, service: &str) -> Self {
        Self {
            conn,
            namespace: format!("{key_prefix}{service}.loops."),
        }
    }

    pub fn last_tick_key(&self, job: &str) -> String {
        format!("{}{job}.last_tick", self.namespace)
    }

    pub fn running_key(&self, job: &str) -> String {
        format!("{}{job}.running", self.namespace)
    }

    /// Claims `tick_ms` for `job`; true when this caller is the first (and only) one to claim
    /// it. `period` is the interval that follows the tick.
    pub async fn claim_tick(
        &self,
        job: &str,
        tick_ms: i64,
        period: Duration,
    ) -> Result<bool, LockError> {
        let ttl = period.saturating_mul(2).saturating_add(TICK_KEY_MARGIN);
        let claimed: i64 = claim_script()
            .key(self.last_tick_key(job))
            .arg(tick_ms)
            .arg(ttl.as_millis() as u64)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(claimed == 1)
    }

    /// Takes the no-overlap lock for `ttl`; `None` when another run holds it.
    pub async fn acquire_running(
        &self,
        job: &str,
        ttl: Duration,
    ) -> Result<Option<RunningLock>, LockError> {
        let key = self.running_key(job);
        let token = uuid::Uuid::new_v4().to_string();
        let set: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(set.map(|_| RunningLock { key, token }))
    }

    /// Extends a held lock to `ttl` from now; false when the lock is no longer ours (it expired
    /// and someone else took it).
    pub async fn renew(&self, lock: &RunningLock, ttl: Duration) -> Result<bool, LockError> {
        let renewed: i64 = renew_script()
            .key(&lock.key)
            .arg(&lock.token)
            .arg(ttl.as_millis().max(1) as u64)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(renewed == 1)
    }

    /// Releases a held lock; false when it was no longer ours.
    pub async fn release(&self, lock: &RunningLock) -> Result<bool, LockError> {
        let released: i64 = release_script()
            .key(&lock.key)
            .arg(&lock.token)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(released == 1)
    }
}

fn claim_script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        Script::new(
            r"
-- KEYS[1] last claimed tick; ARGV[1] tick ms; ARGV[2] key TTL ms. Ticks only move forward.
local last = redis.call('GET', KEYS[1])
if last and tonumber(last) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
",
        )
    })
}

fn renew_script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        Script::new(
            r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
",
        )
    })
}

fn release_script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        Script::new(
            r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
        )
    })
}
