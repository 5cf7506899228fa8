//! Reads and writes of roundtable's jobs (ops.md §1.4), one module per job or family of jobs.
//! Reads that tolerate replica lag take any executor (callers pass `Pools::reader()`); writes
//! take the caller's connection or transaction.

pub mod affiliates;
pub mod blocks;
pub mod compliance;
pub mod funding_payments;
pub mod housekeeping;
pub mod leaderboard;
pub mod markets;
pub mod orders;
pub mod pnl;
pub mod pnl_ticks;
pub mod research;
pub mod trading_rewards;
pub mod usernames;
pub mod vault_pnl;
pub mod watermarks;
