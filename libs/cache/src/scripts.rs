//! The Lua scripts, loaded once per process. redis-rs sends EVALSHA and falls back to EVAL (which
//! caches the script on the server) when the server does not know the script yet.

use std::sync::OnceLock;

use redis::Script;

/// Place / update / remove / replace, for a batch of operations (see `scripts/apply.lua`).
pub(crate) fn apply_order_ops() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        Script::new(concat!(
            include_str!("scripts/common.lua"),
            include_str!("scripts/deferred.lua"),
            include_str!("scripts/book.lua"),
            include_str!("scripts/place.lua"),
            include_str!("scripts/update.lua"),
            include_str!("scripts/remove.lua"),
            include_str!("scripts/apply.lua"),
        ))
    })
}

/// Levels of both sides, their lastUpdated times, the seq and the epoch of one market.
pub(crate) fn book_snapshot() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| Script::new(include_str!("scripts/book_snapshot.lua")))
}

/// Reserves channel sequence numbers and returns the epoch.
pub(crate) fn reserve_seqs() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| Script::new(include_str!("scripts/reserve_seqs.lua")))
}
