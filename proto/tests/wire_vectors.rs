//! Fixed byte vectors from the specification (ingest.md §3, §10.3).

use indexer_proto::events::{
    order_fill_event_v1::TakerOrder, LiquidationOrderV1, OrderFillEventV1,
};
use indexer_proto::protocol::v1::{
    indexer_order::GoodTilOneof, IndexerOrder, IndexerOrderId, IndexerSubaccountId,
};
use prost::Message;

fn order_id_of_spec_10_3() -> IndexerOrderId {
    IndexerOrderId {
        subaccount_id: Some(IndexerSubaccountId {
            owner: "dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc565lnf".to_owned(),
            number: 0,
        }),
        client_id: 123,
        order_flags: 64,
        clob_pair_id: 0,
    }
}

#[test]
fn order_id_test_vector_encodes_to_the_spec_bytes() {
    let expected = "0a2d0a2b64796478316e38387563333878686a67787a77396e777265346570326338676134666a78633536356c6e66157b0000001840";
    let encoded = order_id_of_spec_10_3().encode_to_vec();
    assert_eq!(hex(&encoded), expected);
    assert_eq!(
        IndexerOrderId::decode(&encoded[..]).unwrap(),
        order_id_of_spec_10_3()
    );
}

#[test]
fn subaccount_id_alone_encodes_to_the_partition_key_of_the_spec() {
    let encoded = order_id_of_spec_10_3()
        .subaccount_id
        .unwrap()
        .encode_to_vec();
    assert!(hex(&encoded).starts_with("0a2b"));
    assert!(hex(&encoded).ends_with("6c6e66"));
}

#[test]
fn good_til_block_time_is_fixed32_and_written_even_when_zero() {
    let mut order = IndexerOrder {
        good_til_oneof: Some(GoodTilOneof::GoodTilBlockTime(0x0102_0304)),
        ..Default::default()
    };
    assert_eq!(hex(&order.encode_to_vec()), "3504030201");
    order.good_til_oneof = Some(GoodTilOneof::GoodTilBlock(0));
    assert_eq!(hex(&order.encode_to_vec()), "2800");
    order.good_til_oneof = None;
    assert!(
        order.encode_to_vec().is_empty(),
        "proto3 defaults are omitted"
    );
}

#[test]
fn fees_are_zigzag_sint64() {
    let fill = OrderFillEventV1 {
        maker_fee: -1,
        taker_fee: 1,
        ..Default::default()
    };
    assert_eq!(hex(&fill.encode_to_vec()), "28013002");
}

#[test]
fn liquidation_taker_is_written_after_fill_amount() {
    let fill = OrderFillEventV1 {
        fill_amount: 5,
        taker_order: Some(TakerOrder::LiquidationOrder(LiquidationOrderV1 {
            perpetual_id: 1,
            ..Default::default()
        })),
        ..Default::default()
    };
    let encoded = fill.encode_to_vec();
    // field 3 (fill_amount) = 5, then field 4 (liquidation_order) = { field 3 = 1 }.
    assert_eq!(hex(&encoded), "180522021801");
    assert_eq!(fill.encoded_len(), encoded.len());
    assert_eq!(OrderFillEventV1::decode(&encoded[..]).unwrap(), fill);
}

#[test]
fn regular_taker_is_written_before_fill_amount() {
    let fill = OrderFillEventV1 {
        fill_amount: 5,
        taker_order: Some(TakerOrder::Order(IndexerOrder::default())),
        ..Default::default()
    };
    assert_eq!(hex(&fill.encode_to_vec()), "12001805");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
