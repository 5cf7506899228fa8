//! The test chain: a thin adapter over the devnet crate's simulated chain (the one generator of
//! dYdX traffic in the repo), yielding blocks encoded as on `to-ender`.

#![allow(dead_code, unused_imports)]

pub use devnet::chain::Lcg;
use devnet::chain::{ChainConfig, SimulatedChain};

/// A genesis block with one market (BTC-USD) and four funded accounts, then blocks with oracle
/// moves, matched fills, transfers, premium samples and a funding tick every 60 blocks.
pub struct Chain(SimulatedChain);

impl Chain {
    pub fn new(seed: u64) -> Self {
        Chain(SimulatedChain::new(ChainConfig {
            seed,
            ..ChainConfig::default()
        }))
    }

    /// Up to `n` fills per block (default 3).
    pub fn with_max_fills(self, n: u64) -> Self {
        let config = ChainConfig {
            max_fills_per_block: n,
            ..self.0.config().clone()
        };
        Chain(SimulatedChain::new(config))
    }

    /// The next block, encoded as on `to-ender`.
    pub fn next_block(&mut self) -> Vec<u8> {
        self.0.next_block_bytes()
    }
}
