//! devnet: a simulated dYdX chain feeding the indexer for local development, tests and benches.
//!
//! [`chain::SimulatedChain`] is the one generator of realistic dYdX traffic in the repository:
//! seeded and deterministic, it produces the `IndexerTendermintBlock`s a full node publishes on
//! `to-ender` and the `OffChainUpdateV1` order-book updates it publishes on `to-vulcan`, around a
//! price-time priority order book per market ([`book`]) and subaccount balances kept as the
//! protocol keeps them ([`ledger`]), so every subaccount update carries the balances its fills,
//! fees, funding and transfers add up to.

mod block;
pub mod book;
pub mod chain;
pub mod ledger;
