//! roundtable: the indexer's periodic maintenance jobs (ops.md §1).
//!
//! - [`scheduler`]: cron/interval ticks, fleet-wide Redis locks, concurrency budgets, failure
//!   isolation and graceful shutdown;
//! - [`aws`]: the signed RDS/S3/Athena calls of the optional AWS jobs;
//! - [`catalogue`]: every job of the reference with its variable names and default schedule;
//! - [`config`]: settings from the environment;
//! - [`jobs`]: one module per job; each separates its pure decision (tested without I/O) from
//!   its reads and writes.

pub mod aws;
pub mod catalogue;
pub mod config;
pub mod error;
pub mod jobs;
pub mod metrics;
pub mod scheduler;

pub use error::JobError;
