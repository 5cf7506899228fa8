//! devnet: a simulated dYdX chain feeding the indexer for local development, tests and benches.
//!
//! [`chain::SimulatedChain`] is the one generator of realistic dYdX traffic in the repository:
//! seeded and deterministic, it produces the `IndexerTendermintBlock`s a full node publishes on
//! `to-ender`, with subaccount updates consistent with the fills they accompany.

pub mod chain;
