//! Assembles one `IndexerTendermintBlock` the way the protocol's indexer manager does (ingest.md
//! §3.9): transaction events grouped by transaction in block order, each numbered within its
//! transaction, then the END_BLOCK events numbered on their own.

use indexer_proto::indexer_manager::indexer_tendermint_event::{BlockEvent, OrderingWithinBlock};
use indexer_proto::indexer_manager::{IndexerTendermintBlock, IndexerTendermintEvent};
use prost::Message;

/// Hash of the empty byte string: the pseudo-transaction of events emitted outside any
/// transaction through the transaction-event API, such as genesis initialisation (§3.1).
pub const EMPTY_TX_HASH: &str = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";

pub struct BlockBuilder {
    seed: u64,
    height: u32,
    events: Vec<IndexerTendermintEvent>,
    end_block: Vec<IndexerTendermintEvent>,
    tx_hashes: Vec<String>,
    /// Events so far in the open transaction.
    tx_events: u32,
}

impl BlockBuilder {
    pub fn new(seed: u64, height: u32) -> Self {
        BlockBuilder {
            seed,
            height,
            events: Vec::new(),
            end_block: Vec::new(),
            tx_hashes: Vec::new(),
            tx_events: 0,
        }
    }

    /// Starts a new transaction with a deterministic pseudo-random hash; events added next
    /// belong to it.
    pub fn tx(&mut self) {
        let hash = tx_hash(self.seed, self.height, self.tx_hashes.len() as u32);
        self.tx_with_hash(hash);
    }

    pub fn tx_with_hash(&mut self, hash: String) {
        self.tx_hashes.push(hash);
        self.tx_events = 0;
    }

    /// Adds an event to the open transaction.
    ///
    /// # Panics
    /// If no transaction was started.
    pub fn add(&mut self, subtype: &str, version: u32, payload: &impl Message) {
        assert!(!self.tx_hashes.is_empty(), "events belong to a transaction");
        let index = (self.tx_hashes.len() - 1) as u32;
        self.events.push(IndexerTendermintEvent {
            subtype: subtype.into(),
            ordering_within_block: Some(OrderingWithinBlock::TransactionIndex(index)),
            event_index: self.tx_events,
            version,
            data_bytes: payload.encode_to_vec(),
        });
        self.tx_events += 1;
    }

    pub fn end_block(&mut self, subtype: &str, payload: &impl Message) {
        self.end_block.push(IndexerTendermintEvent {
            subtype: subtype.into(),
            ordering_within_block: Some(OrderingWithinBlock::BlockEvent(
                BlockEvent::EndBlock as i32,
            )),
            event_index: self.end_block.len() as u32,
            version: 1,
            data_bytes: payload.encode_to_vec(),
        });
    }

    pub fn build(mut self, time: prost_types::Timestamp) -> IndexerTendermintBlock {
        self.events.append(&mut self.end_block);
        IndexerTendermintBlock {
            height: self.height,
            time: Some(time),
            events: self.events,
            tx_hashes: self.tx_hashes,
        }
    }
}

/// Upper-case hex of 32 pseudo-random bytes determined by (seed, height, index), shaped like the
/// SHA-256 transaction hashes a node reports.
pub fn tx_hash(seed: u64, height: u32, index: u32) -> String {
    let mut state = seed ^ (u64::from(height) << 32 | u64::from(index));
    (0..4)
        .map(|_| format!("{:016X}", splitmix64(&mut state)))
        .collect()
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_look_like_sha256_hex_and_differ_per_transaction() {
        let a = tx_hash(1, 5, 0);
        assert_eq!(a.len(), 64);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        assert_ne!(a, tx_hash(1, 5, 1));
        assert_ne!(a, tx_hash(1, 6, 0));
        assert_eq!(a, tx_hash(1, 5, 0));
    }
}
