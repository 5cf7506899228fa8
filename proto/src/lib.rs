//! Prost types for the dYdX v4 indexer wire formats (`dydxprotocol.indexer.*`).
//!
//! The packages are re-exported at the crate root, mirroring the proto
//! packages: `indexer_proto::protocol::v1::IndexerOrderId`,
//! `indexer_proto::events::OrderFillEventV1`,
//! `indexer_proto::off_chain_updates::OffChainUpdateV1`, ...
//! `google.protobuf.Timestamp` is [`prost_types::Timestamp`].
//!
//! Encodings are byte-identical to the reference encoders (fields in
//! field-number order, proto3 defaults omitted, oneof members always written);
//! `tests/conformance.rs` checks this against dYdX's Python package.
//! `events::OrderFillEventV1` implements `prost::Message` by hand (see
//! `order_fill.rs`) because prost-derive would write its `taker_order` oneof
//! out of field-number order; every other type is plain prost-build output,
//! and every message implements `prost::Name`.

include!(concat!(env!("OUT_DIR"), "/packages.rs"));

mod order_fill;

pub use dydxprotocol::indexer::{
    events, indexer_manager, off_chain_updates, protocol, redis, shared, socks,
};
pub use prost;
pub use prost_types;

/// Serialized `google.protobuf.FileDescriptorSet` of this crate's .proto
/// files (with imports), as compiled by protox.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/file_descriptor_set.bin"));
