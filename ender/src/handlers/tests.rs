//! Handler tests through `process_block` on an in-memory state: one block in, rows and messages
//! out, no database.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use indexer_domain::{ids, order_flags, CandleResolution, Decimal, EventId};
use indexer_proto::events as ev;
use indexer_proto::indexer_manager::indexer_tendermint_event::{BlockEvent, OrderingWithinBlock};
use indexer_proto::indexer_manager::{IndexerTendermintBlock, IndexerTendermintEvent};
use indexer_proto::off_chain_updates::{off_chain_update_v1::UpdateMessage, OffChainUpdateV1};
use indexer_proto::protocol::v1::{
    indexer_order::GoodTilOneof, IndexerOrder, IndexerOrderId, IndexerSubaccountId, TwapParameters,
};
use indexer_proto::socks;
use indexer_store::write::RowChange;
use prost::Message;

use crate::block::{process_block, BlockOutcome};
use crate::decode::decode_block;
use crate::messages::topics;
use crate::model::{Asset, LiquidityTier, Market, Order, PerpetualMarket, Position};
use crate::positions::{apply_position_update, EventAt, UpdateOutcome};
use crate::state::{Caches, State};

const A: &str = "dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc565lnf";
const B: &str = "dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc575lnf";

fn d(s: &str) -> Decimal {
    Decimal::parse(s).unwrap()
}

fn caches() -> Caches {
    let mut c = Caches::default();
    c.markets.insert(
        0,
        Market {
            id: 0,
            pair: "BTC-USD".into(),
            exponent: -5,
            min_price_change_ppm: 50,
            oracle_price: Some(d("50000")),
        },
    );
    c.assets.insert(
        0,
        Asset {
            id: 0,
            symbol: "USDC".into(),
            atomic_resolution: -6,
            has_market: false,
            market_id: None,
        },
    );
    c.liquidity_tiers.insert(
        0,
        LiquidityTier {
            id: 0,
            name: "Large-Cap".into(),
            initial_margin_ppm: 50_000,
            maintenance_fraction_ppm: 600_000,
            open_interest_lower_cap: Some("0".into()),
            open_interest_upper_cap: Some("0".into()),
        },
    );
    c.perpetual_markets.insert(
        0,
        PerpetualMarket {
            id: 0,
            clob_pair_id: 0,
            ticker: "BTC-USD".into(),
            market_id: 0,
            status: indexer_domain::PerpetualMarketStatus::Active,
            price_change_24h: d("0"),
            volume_24h: d("0"),
            trades_24h: 0,
            next_funding_rate: d("0"),
            open_interest: d("0"),
            quantum_conversion_exponent: -9,
            atomic_resolution: -10,
            subticks_per_tick: 100_000,
            step_base_quantums: 1_000_000,
            liquidity_tier_id: 0,
            market_type: indexer_domain::PerpetualMarketType::Cross,
            base_open_interest: Some(d("0")),
            default_funding_rate_1h: Some(d("0")),
        },
    );
    c.clob_pairs.insert(0, 0);
    c
}

fn tx_event(
    subtype: &str,
    index: u32,
    version: u32,
    payload: impl Message,
) -> IndexerTendermintEvent {
    IndexerTendermintEvent {
        subtype: subtype.into(),
        ordering_within_block: Some(OrderingWithinBlock::TransactionIndex(0)),
        event_index: index,
        version,
        data_bytes: payload.encode_to_vec(),
    }
}

fn end_event(subtype: &str, index: u32, payload: impl Message) -> IndexerTendermintEvent {
    IndexerTendermintEvent {
        subtype: subtype.into(),
        ordering_within_block: Some(OrderingWithinBlock::BlockEvent(BlockEvent::EndBlock as i32)),
        event_index: index,
        version: 1,
        data_bytes: payload.encode_to_vec(),
    }
}

fn run_at(
    state: &State<'_>,
    height: u32,
    time: &str,
    events: Vec<IndexerTendermintEvent>,
) -> BlockOutcome {
    let time: DateTime<Utc> = time.parse().unwrap();
    let block = IndexerTendermintBlock {
        height,
        time: Some(prost_types::Timestamp {
            seconds: time.timestamp(),
            nanos: time.timestamp_subsec_nanos() as i32,
        }),
        events,
        tx_hashes: vec!["HASH".into()],
    };
    // Trades start candles, which need the open-interest snapshot the pipeline would load.
    let mut state = state.clone();
    state.open_interest.get_or_insert_with(HashMap::new);
    process_block(&decode_block(&block).unwrap(), &state).unwrap()
}

fn run(state: &State<'_>, events: Vec<IndexerTendermintEvent>) -> BlockOutcome {
    run_at(state, 5, "2024-01-01T00:00:30Z", events)
}

fn open_position(owner: &str, size: &str) -> Position {
    let sub = ids::subaccount_uuid(owner, 0);
    let at = EventAt {
        id: EventId::new(1, 0, 0),
        time: "2024-01-01T00:00:00Z".parse().unwrap(),
        height: 1,
    };
    match apply_position_update(None, sub, 0, &d(size), &d("0"), at) {
        UpdateOutcome::Rows(mut rows) => rows.remove(0),
        other => panic!("{other:?}"),
    }
}

fn sub(owner: &str) -> IndexerSubaccountId {
    IndexerSubaccountId {
        owner: owner.into(),
        number: 0,
    }
}

fn stateful_order(
    owner: &str,
    client_id: u32,
    flags: u32,
    quantums: u64,
    subticks: u64,
) -> IndexerOrder {
    IndexerOrder {
        order_id: Some(IndexerOrderId {
            subaccount_id: Some(sub(owner)),
            client_id,
            order_flags: flags,
            clob_pair_id: 0,
        }),
        side: 1,
        quantums,
        subticks,
        good_til_oneof: Some(GoodTilOneof::GoodTilBlockTime(1_704_070_000)),
        ..Default::default()
    }
}

fn stateful(event: ev::stateful_order_event_v1::Event) -> ev::StatefulOrderEventV1 {
    ev::StatefulOrderEventV1 { event: Some(event) }
}

fn vulcan_messages(outcome: &BlockOutcome) -> Vec<UpdateMessage> {
    outcome
        .write
        .outbox
        .iter()
        .filter(|m| m.topic == topics::VULCAN)
        .map(|m| {
            OffChainUpdateV1::decode(m.payload.as_slice())
                .unwrap()
                .update_message
                .unwrap()
        })
        .collect()
}

fn subaccount_contents(outcome: &BlockOutcome) -> Vec<serde_json::Value> {
    outcome
        .write
        .outbox
        .iter()
        .filter(|m| m.topic == topics::SUBACCOUNTS)
        .map(|m| {
            serde_json::from_str(
                &socks::SubaccountMessage::decode(m.payload.as_slice())
                    .unwrap()
                    .contents,
            )
            .unwrap()
        })
        .collect()
}

#[test]
fn deleveraging_writes_two_fills_at_the_bankruptcy_price_and_one_trade() {
    let caches = caches();
    let mut state = State::new(&caches);
    for (owner, size) in [(A, "-0.1"), (B, "0.1")] {
        let p = open_position(owner, size);
        state.positions.insert((p.subaccount_id, 0), p);
    }
    let outcome = run(
        &state,
        vec![tx_event(
            "deleveraging",
            0,
            1,
            ev::DeleveragingEventV1 {
                liquidated: Some(sub(A)),
                offsetting: Some(sub(B)),
                perpetual_id: 0,
                fill_amount: 300_000_000,
                total_quote_quantums: 15_000_123_456,
                is_buy: true,
                is_final_settlement: false,
            },
        )],
    );
    let fills = &outcome.write.fills;
    assert_eq!(fills.len(), 2);
    assert_eq!(
        (
            fills[0].fill_type.as_str(),
            fills[0].side.as_str(),
            fills[0].liquidity.as_str()
        ),
        ("DELEVERAGED", "BUY", "TAKER")
    );
    assert_eq!(
        (
            fills[1].fill_type.as_str(),
            fills[1].side.as_str(),
            fills[1].liquidity.as_str()
        ),
        ("OFFSETTING", "SELL", "MAKER")
    );
    // 15000.123456 / 0.03 with Postgres division.
    assert_eq!(fills[0].price.to_string(), "500004.1152");
    assert_eq!(fills[0].quote_amount.to_string(), "15000.123456");
    assert_eq!(fills[0].order_id, None);
    let a = outcome
        .write
        .perpetual_positions
        .iter()
        .find(|p| p.side == "SHORT")
        .unwrap();
    assert_eq!(
        (
            a.sum_close.to_string(),
            a.exit_price.as_ref().unwrap().to_string()
        ),
        ("0.03".into(), "500004.1152".into())
    );
    assert_eq!(
        a.total_realized_pnl, None,
        "deleveraging does not realize PnL (quirk Q5)"
    );
    let trades: Vec<_> = outcome
        .write
        .outbox
        .iter()
        .filter(|m| m.topic == topics::TRADES)
        .collect();
    assert_eq!(trades.len(), 1);
    assert!(socks::TradeMessage::decode(trades[0].payload.as_slice())
        .unwrap()
        .contents
        .contains("\"type\":\"DELEVERAGED\""));
    assert_eq!(subaccount_contents(&outcome).len(), 2);
}

#[test]
fn conditional_order_is_untriggered_until_triggered_then_sent_to_vulcan_rebuilt() {
    use ev::stateful_order_event_v1::{
        ConditionalOrderPlacementV1, ConditionalOrderTriggeredV1, Event,
    };
    let caches = caches();
    let mut state = State::new(&caches);
    let mut order = stateful_order(A, 9, order_flags::CONDITIONAL, 2_000_000_000, 4_800_000_000);
    order.condition_type = 1;
    order.conditional_order_trigger_subticks = 4_900_000_000;
    let placed = run(
        &state,
        vec![tx_event(
            "stateful_order",
            0,
            1,
            stateful(Event::ConditionalOrderPlacement(
                ConditionalOrderPlacementV1 {
                    order: Some(order.clone()),
                },
            )),
        )],
    );
    let row = &placed.write.orders[0];
    assert_eq!(
        (row.status.as_str(), row.order_type.as_str()),
        ("UNTRIGGERED", "STOP_LIMIT")
    );
    assert_eq!(row.trigger_price.as_ref().unwrap().to_string(), "49000");
    assert!(
        vulcan_messages(&placed).is_empty(),
        "not on the book before the trigger"
    );
    assert_eq!(
        subaccount_contents(&placed)[0]["orders"][0]["status"],
        "UNTRIGGERED"
    );

    let stored = Order::from_row(row).unwrap();
    state.orders.insert(stored.id, stored);
    state
        .existing_subaccounts
        .insert(ids::subaccount_uuid(A, 0));
    let triggered = run(
        &state,
        vec![tx_event(
            "stateful_order",
            0,
            1,
            stateful(Event::ConditionalOrderTriggered(
                ConditionalOrderTriggeredV1 {
                    triggered_order_id: order.order_id.clone(),
                },
            )),
        )],
    );
    assert_eq!(triggered.write.orders[0].status, "OPEN");
    match &vulcan_messages(&triggered)[0] {
        UpdateMessage::OrderPlace(place) => {
            let rebuilt = place.order.as_ref().unwrap();
            assert_eq!(
                (
                    rebuilt.quantums,
                    rebuilt.subticks,
                    rebuilt.conditional_order_trigger_subticks
                ),
                (2_000_000_000, 4_800_000_000, 4_900_000_000)
            );
            assert_eq!(rebuilt.condition_type, 1);
            assert_eq!(rebuilt.order_id, order.order_id);
        }
        other => panic!("expected a placement, got {other:?}"),
    }
}

#[test]
fn twap_parent_collects_suborder_fills_at_their_average_price() {
    use ev::stateful_order_event_v1::{
        Event, LongTermOrderPlacementV1, StatefulOrderRemovalV1, TwapOrderPlacementV1,
    };
    let caches = caches();
    let mut state = State::new(&caches);
    let mut parent = stateful_order(A, 3, order_flags::TWAP, 3_000_000_000, 5_000_000_000);
    parent.twap_parameters = Some(TwapParameters {
        duration: 300,
        interval: 30,
        price_tolerance: 1000,
    });
    let placed = run(
        &state,
        vec![tx_event(
            "stateful_order",
            0,
            1,
            stateful(Event::TwapOrderPlacement(TwapOrderPlacementV1 {
                order: Some(parent.clone()),
            })),
        )],
    );
    let row = &placed.write.orders[0];
    assert_eq!(
        (
            row.order_type.as_str(),
            row.duration.as_deref(),
            row.interval.as_deref(),
            row.price_tolerance.as_deref()
        ),
        ("TWAP", Some("300"), Some("30"), Some("1000"))
    );

    let parent_row = Order::from_row(row).unwrap();
    state.orders.insert(parent_row.id, parent_row.clone());
    state
        .existing_subaccounts
        .insert(ids::subaccount_uuid(A, 0));
    let p = open_position(A, "0.1");
    state.positions.insert((p.subaccount_id, 0), p);
    let suborder = stateful_order(
        A,
        3,
        order_flags::TWAP_SUBORDER,
        1_000_000_000,
        5_000_000_000,
    );
    let maker = |subticks| IndexerOrder {
        order_id: Some(IndexerOrderId {
            subaccount_id: Some(sub(B)),
            client_id: 1,
            order_flags: 0,
            clob_pair_id: 0,
        }),
        side: 2,
        quantums: 1_000_000_000,
        subticks,
        good_til_oneof: Some(GoodTilOneof::GoodTilBlock(20)),
        ..Default::default()
    };
    let q = open_position(B, "-0.1");
    state.positions.insert((q.subaccount_id, 0), q);
    let fill = |index, subticks| {
        tx_event(
            "order_fill",
            index,
            1,
            ev::OrderFillEventV1 {
                maker_order: Some(maker(subticks)),
                taker_order: Some(ev::order_fill_event_v1::TakerOrder::Order(suborder.clone())),
                fill_amount: 1_000_000_000,
                total_filled_maker: 1_000_000_000,
                total_filled_taker: 1_000_000_000,
                ..Default::default()
            },
        )
    };
    let outcome = run(
        &state,
        vec![
            tx_event(
                "stateful_order",
                0,
                1,
                stateful(Event::LongTermOrderPlacement(LongTermOrderPlacementV1 {
                    order: Some(suborder.clone()),
                })),
            ),
            fill(1, 5_000_000_000),
            fill(2, 5_100_000_000),
            tx_event(
                "stateful_order",
                3,
                1,
                stateful(Event::OrderRemoval(StatefulOrderRemovalV1 {
                    removed_order_id: suborder.order_id.clone(),
                    reason: 1,
                })),
            ),
        ],
    );
    let parent_after = outcome
        .write
        .orders
        .iter()
        .find(|o| o.id == parent_row.id)
        .unwrap();
    assert_eq!(parent_after.total_filled.to_string(), "0.2");
    assert_eq!(parent_after.price.to_string(), "50500");
    assert_eq!(
        parent_after.status, "OPEN",
        "a suborder removal leaves the parent open"
    );
    assert_eq!(
        outcome.write.orders.len(),
        2,
        "the parent and the maker order; the suborder is never stored"
    );
    let taker_fills: Vec<_> = outcome
        .write
        .fills
        .iter()
        .filter(|f| f.liquidity == "TAKER")
        .collect();
    assert!(taker_fills
        .iter()
        .all(|f| f.fill_type == "TWAP_SUBORDER" && f.order_id == Some(parent_row.id)));
}

#[test]
fn perpetual_market_versions_and_updates_set_their_columns_and_announce_the_market() {
    let caches = caches();
    let state = State::new(&caches);
    let create_v1 = ev::PerpetualMarketCreateEventV1 {
        id: 1,
        clob_pair_id: 1,
        ticker: "ETH-USD".into(),
        market_id: 0,
        status: 5,
        quantum_conversion_exponent: -9,
        atomic_resolution: -9,
        subticks_per_tick: 100_000,
        step_base_quantums: 1_000_000,
        liquidity_tier: 0,
    };
    let create_v2 = ev::PerpetualMarketCreateEventV2 {
        id: 2,
        clob_pair_id: 2,
        ticker: "SOL-USD".into(),
        market_id: 0,
        status: 1,
        quantum_conversion_exponent: -9,
        atomic_resolution: -7,
        subticks_per_tick: 1_000,
        step_base_quantums: 1_000_000,
        liquidity_tier: 0,
        market_type: 2,
    };
    let outcome = run(
        &state,
        vec![
            tx_event("perpetual_market", 0, 1, create_v1),
            tx_event("perpetual_market", 1, 2, create_v2),
            tx_event(
                "update_perpetual",
                2,
                1,
                ev::UpdatePerpetualEventV1 {
                    id: 0,
                    ticker: "BTC-USD".into(),
                    market_id: 0,
                    atomic_resolution: -10,
                    liquidity_tier: 0,
                },
            ),
            tx_event(
                "update_perpetual",
                3,
                3,
                ev::UpdatePerpetualEventV3 {
                    id: 1,
                    ticker: "ETH2-USD".into(),
                    market_id: 0,
                    atomic_resolution: -9,
                    liquidity_tier: 0,
                    market_type: 2,
                    default_funding8hr_ppm: 80,
                },
            ),
            tx_event(
                "update_clob_pair",
                4,
                1,
                ev::UpdateClobPairEventV1 {
                    clob_pair_id: 0,
                    status: 6,
                    quantum_conversion_exponent: -8,
                    subticks_per_tick: 10,
                    step_base_quantums: 5,
                },
            ),
        ],
    );
    let rows: HashMap<i64, (RowChange, indexer_store::write::PerpetualMarketRow)> = outcome
        .write
        .perpetual_markets
        .iter()
        .map(|(c, r)| (r.id, (*c, r.clone())))
        .collect();
    let eth = &rows[&1];
    assert_eq!(
        eth.0,
        RowChange::Insert,
        "created and updated in one block: still an insert"
    );
    assert_eq!(
        (
            eth.1.ticker.as_str(),
            eth.1.market_type.as_str(),
            eth.1.status.as_str()
        ),
        ("ETH2-USD", "ISOLATED", "INITIALIZING")
    );
    assert_eq!(
        eth.1.default_funding_rate_1h.as_ref().unwrap().to_string(),
        "0.00001"
    );
    let sol = &rows[&2].1;
    assert_eq!(
        (
            sol.market_type.as_str(),
            sol.default_funding_rate_1h.as_ref().map(|v| v.to_string())
        ),
        ("ISOLATED", Some("0".into()))
    );
    let btc = &rows[&0];
    assert_eq!(btc.0, RowChange::Update);
    assert_eq!(
        (
            btc.1.status.as_str(),
            btc.1.quantum_conversion_exponent,
            btc.1.subticks_per_tick,
            btc.1.step_base_quantums
        ),
        ("FINAL_SETTLEMENT", -8, 10, 5)
    );
    assert_eq!(outcome.cache_delta.perpetual_markets[&1].ticker, "ETH2-USD");
    let markets: Vec<String> = outcome
        .write
        .outbox
        .iter()
        .filter(|m| m.topic == topics::MARKETS)
        .map(|m| {
            socks::MarketMessage::decode(m.payload.as_slice())
                .unwrap()
                .contents
        })
        .collect();
    assert_eq!(
        markets.len(),
        5,
        "one markets message per create/update event"
    );
    assert!(markets[4].contains("\"status\":\"FINAL_SETTLEMENT\""));

    let v1_only = run(
        &state,
        vec![tx_event(
            "perpetual_market",
            0,
            1,
            ev::PerpetualMarketCreateEventV1 {
                id: 7,
                clob_pair_id: 7,
                ticker: "X-USD".into(),
                market_id: 0,
                status: 1,
                quantum_conversion_exponent: -9,
                atomic_resolution: -9,
                subticks_per_tick: 1,
                step_base_quantums: 1,
                liquidity_tier: 0,
            },
        )],
    );
    let x = &v1_only.write.perpetual_markets[0].1;
    assert_eq!(
        (x.market_type.as_str(), x.default_funding_rate_1h.clone()),
        ("CROSS", None),
        "quirk Q14"
    );
}

#[test]
fn liquidity_tier_v1_has_no_caps_and_announces_every_market_using_it() {
    let caches = caches();
    let state = State::new(&caches);
    let outcome = run(
        &state,
        vec![tx_event(
            "liquidity_tier",
            0,
            1,
            ev::LiquidityTierUpsertEventV1 {
                id: 0,
                name: "Large-Cap".into(),
                initial_margin_ppm: 20_000,
                maintenance_fraction_ppm: 500_000,
                base_position_notional: 0,
            },
        )],
    );
    let tier = &outcome.write.liquidity_tiers[0];
    assert_eq!(
        (
            tier.open_interest_lower_cap.clone(),
            tier.initial_margin_ppm
        ),
        (None, 20_000)
    );
    let message = socks::MarketMessage::decode(outcome.write.outbox[1].payload.as_slice())
        .unwrap()
        .contents;
    let json: serde_json::Value = serde_json::from_str(&message).unwrap();
    assert_eq!(json["trading"]["BTC-USD"]["initialMarginFraction"], "0.02");
    assert_eq!(
        json["trading"]["BTC-USD"]["maintenanceMarginFraction"],
        "0.01"
    );
}

#[test]
fn withdrawal_creates_the_wallet_and_tells_the_sender() {
    let caches = caches();
    let state = State::new(&caches);
    let outcome = run(
        &state,
        vec![tx_event(
            "transfer",
            0,
            1,
            ev::TransferEventV1 {
                asset_id: 0,
                amount: 2_500_000,
                sender: Some(ev::SourceOfFunds {
                    source: Some(ev::source_of_funds::Source::SubaccountId(sub(A))),
                }),
                recipient: Some(ev::SourceOfFunds {
                    source: Some(ev::source_of_funds::Source::Address(B.into())),
                }),
                ..Default::default()
            },
        )],
    );
    let t = &outcome.write.transfers[0];
    assert_eq!(
        (
            t.sender_subaccount_id,
            t.recipient_wallet_address.as_deref(),
            t.size.to_string()
        ),
        (Some(ids::subaccount_uuid(A, 0)), Some(B), "2.5".into())
    );
    assert_eq!(outcome.write.wallets.len(), 1);
    assert!(
        outcome.write.subaccounts.is_empty(),
        "a sender subaccount is not upserted"
    );
    let contents = subaccount_contents(&outcome);
    assert_eq!(contents.len(), 1);
    assert_eq!(contents[0]["transfers"]["type"], "WITHDRAWAL");
    assert_eq!(
        contents[0]["transfers"]["recipient"],
        serde_json::json!({ "address": B })
    );
}

#[test]
fn vault_orders_reach_vulcan_without_an_orders_row_and_ignored_events_only_get_an_event_row() {
    use ev::stateful_order_event_v1::{Event, LongTermOrderPlacementV1};
    let caches = caches();
    let state = State::new(&caches);
    let vault = indexer_domain::vault::clob_vault_address(0);
    let order = stateful_order(
        &vault,
        1,
        order_flags::LONG_TERM,
        1_000_000_000,
        5_000_000_000,
    );
    let outcome = run(
        &state,
        vec![
            tx_event(
                "stateful_order",
                0,
                1,
                stateful(Event::LongTermOrderPlacement(LongTermOrderPlacementV1 {
                    order: Some(order),
                })),
            ),
            tx_event(
                "open_interest_update",
                1,
                1,
                ev::OpenInterestUpdateEventV1::default(),
            ),
            end_event("order_fill", 0, ev::OrderFillEventV1::default()),
        ],
    );
    assert!(outcome.write.orders.is_empty());
    assert_eq!(vulcan_messages(&outcome).len(), 1);
    assert_eq!(outcome.write.tendermint_events.len(), 3);
    assert_eq!(
        outcome
            .notices
            .iter()
            .filter(|n| n.kind == "ignored_event")
            .count(),
        2
    );
}

#[test]
fn candles_start_from_trades_then_roll_over_to_an_empty_candle_at_the_next_period() {
    let caches = caches();
    let mut state = State::new(&caches);
    state.open_interest = Some(HashMap::from([(0, d("1.5"))]));
    state.mid_prices.insert("BTC-USD".into(), d("50001"));
    for owner in [A, B] {
        let p = open_position(owner, if owner == A { "0.5" } else { "-0.5" });
        state.positions.insert((p.subaccount_id, 0), p);
    }
    let order = |owner: &str, side, subticks| IndexerOrder {
        order_id: Some(IndexerOrderId {
            subaccount_id: Some(sub(owner)),
            client_id: 1,
            order_flags: 0,
            clob_pair_id: 0,
        }),
        side,
        quantums: 1_000_000_000,
        subticks,
        good_til_oneof: Some(GoodTilOneof::GoodTilBlock(20)),
        ..Default::default()
    };
    let fill = |index, subticks| {
        tx_event(
            "order_fill",
            index,
            1,
            ev::OrderFillEventV1 {
                maker_order: Some(order(B, 2, subticks)),
                taker_order: Some(ev::order_fill_event_v1::TakerOrder::Order(order(
                    A,
                    1,
                    6_000_000_000,
                ))),
                fill_amount: 1_000_000_000,
                total_filled_maker: 1_000_000_000,
                total_filled_taker: 1_000_000_000,
                ..Default::default()
            },
        )
    };
    let first = run_at(
        &state,
        5,
        "2024-01-01T00:00:30Z",
        vec![fill(0, 5_000_000_000), fill(1, 5_100_000_000)],
    );
    assert_eq!(first.write.candles.len(), CandleResolution::ALL.len());
    let minute = first
        .write
        .candles
        .iter()
        .find(|c| c.resolution == "1MIN")
        .unwrap();
    assert_eq!(
        [
            &minute.open,
            &minute.high,
            &minute.low,
            &minute.close,
            &minute.base_token_volume,
            &minute.usd_volume
        ]
        .map(|v| v.to_string()),
        ["50000", "51000", "50000", "51000", "0.2", "10100"]
    );
    assert_eq!(
        (minute.trades, minute.starting_open_interest.to_string()),
        (2, "1.5".into())
    );
    assert_eq!(
        minute
            .orderbook_mid_price_open
            .as_ref()
            .unwrap()
            .to_string(),
        "50001"
    );
    assert_eq!(
        minute.id,
        ids::candle_uuid(
            &"2024-01-01T00:00:00Z".parse().unwrap(),
            "BTC-USD",
            CandleResolution::OneMinute
        )
    );

    let mut next_caches = caches.clone();
    next_caches.apply(first.cache_delta.clone());
    let mut later = State::new(&next_caches);
    later.open_interest = Some(HashMap::new());
    let second = run_at(&later, 6, "2024-01-01T00:01:05Z", vec![]);
    let minutes: Vec<_> = second
        .write
        .candles
        .iter()
        .filter(|c| c.resolution == "1MIN")
        .collect();
    assert_eq!(minutes.len(), 2, "the closed candle and the new empty one");
    let empty = minutes[1];
    assert_eq!(
        (
            empty.trades,
            empty.open.to_string(),
            empty.close.to_string(),
            empty.usd_volume.to_string()
        ),
        (0, "51000".into(), "51000".into(), "0".into())
    );
    assert_eq!(
        second.write.candles.len(),
        2,
        "only the 1MIN series changed period"
    );
    assert_eq!(
        second
            .write
            .outbox
            .iter()
            .filter(|m| m.topic == topics::CANDLES)
            .count(),
        2
    );
}

#[test]
fn market_modify_asset_with_market_and_update_perpetual_v2() {
    use ev::market_event_v1::Event;
    let caches = caches();
    let state = State::new(&caches);
    let outcome = run(
        &state,
        vec![
            tx_event(
                "market",
                0,
                1,
                ev::MarketEventV1 {
                    market_id: 0,
                    event: Some(Event::MarketModify(ev::MarketModifyEventV1 {
                        base: Some(ev::MarketBaseEventV1 {
                            pair: "BTC-USDC".into(),
                            min_price_change_ppm: 25,
                        }),
                    })),
                },
            ),
            tx_event(
                "asset",
                1,
                1,
                ev::AssetCreateEventV1 {
                    id: 1,
                    symbol: "BTC".into(),
                    has_market: true,
                    market_id: 0,
                    atomic_resolution: -10,
                },
            ),
            tx_event(
                "update_perpetual",
                2,
                2,
                ev::UpdatePerpetualEventV2 {
                    id: 0,
                    ticker: "BTC-USD".into(),
                    market_id: 0,
                    atomic_resolution: -10,
                    liquidity_tier: 0,
                    market_type: 2,
                },
            ),
        ],
    );
    let market = &outcome.write.markets[0];
    assert_eq!(
        (
            market.pair.as_str(),
            market.min_price_change_ppm,
            market.oracle_price.as_ref().map(|p| p.to_string())
        ),
        ("BTC-USDC", 25, Some("50000".into()))
    );
    assert_eq!(
        (
            outcome.write.assets[0].symbol.as_str(),
            outcome.write.assets[0].market_id
        ),
        ("BTC", Some(0))
    );
    let (change, perp) = &outcome.write.perpetual_markets[0];
    assert_eq!(
        (*change, perp.market_type.as_str()),
        (RowChange::Update, "ISOLATED")
    );
    assert_eq!(
        perp.default_funding_rate_1h.as_ref().map(|v| v.to_string()),
        Some("0".into()),
        "v2 leaves the funding rate alone"
    );
}

#[test]
fn funding_updates_for_unknown_perpetuals_or_markets_without_price_are_logged_and_skipped() {
    let mut caches = caches();
    caches.markets.get_mut(&0).unwrap().oracle_price = None;
    let state = State::new(&caches);
    let outcome = run(
        &state,
        vec![end_event(
            "funding_values",
            0,
            ev::FundingEventV1 {
                updates: vec![
                    ev::FundingUpdateV1 {
                        perpetual_id: 0,
                        funding_value_ppm: 100,
                        funding_index: vec![],
                    },
                    ev::FundingUpdateV1 {
                        perpetual_id: 9,
                        funding_value_ppm: 100,
                        funding_index: vec![],
                    },
                ],
                r#type: 2,
            },
        )],
    );
    assert!(outcome.write.funding_index_updates.is_empty());
    let kinds: Vec<_> = outcome.notices.iter().map(|n| n.message.clone()).collect();
    assert_eq!(
        kinds,
        [
            "oracle_price not found for marketId 0.",
            "Received FundingUpdate with unknown perpetualId 9."
        ]
    );
}

#[test]
fn legacy_placement_is_a_long_term_order_and_replacement_fails_validation() {
    use ev::stateful_order_event_v1::{
        Event, LongTermOrderReplacementV1, StatefulOrderPlacementV1,
    };
    let caches = caches();
    let state = State::new(&caches);
    let mut order = stateful_order(A, 8, order_flags::LONG_TERM, 1_000_000_000, 5_000_000_000);
    order.time_in_force = 2;
    order.builder_code_params = Some(indexer_proto::protocol::v1::BuilderCodeParameters {
        builder_address: "dydx1builder".into(),
        fee_ppm: 500,
    });
    let outcome = run(
        &state,
        vec![tx_event(
            "stateful_order",
            0,
            1,
            stateful(Event::OrderPlace(StatefulOrderPlacementV1 {
                order: Some(order.clone()),
            })),
        )],
    );
    let row = &outcome.write.orders[0];
    assert_eq!(
        (
            row.status.as_str(),
            row.time_in_force.as_str(),
            row.total_filled.to_string()
        ),
        ("OPEN", "POST_ONLY", "0".into())
    );
    assert_eq!(
        (row.builder_address.as_deref(), row.fee_ppm.as_deref()),
        (Some("dydx1builder"), Some("500"))
    );
    assert!(row.good_til_block.is_none() && row.good_til_block_time.is_some());
    match &vulcan_messages(&outcome)[0] {
        UpdateMessage::OrderPlace(place) => assert_eq!(place.order.as_ref(), Some(&order)),
        other => panic!("{other:?}"),
    }

    let time: DateTime<Utc> = "2024-01-01T00:00:30Z".parse().unwrap();
    let block = IndexerTendermintBlock {
        height: 5,
        time: Some(prost_types::Timestamp {
            seconds: time.timestamp(),
            nanos: 0,
        }),
        events: vec![tx_event(
            "stateful_order",
            0,
            1,
            stateful(Event::OrderReplacement(LongTermOrderReplacementV1 {
                old_order_id: order.order_id.clone(),
                order: Some(order),
            })),
        )],
        tx_hashes: vec!["HASH".into()],
    };
    let error = process_block(&decode_block(&block).unwrap(), &state).unwrap_err();
    assert!(
        matches!(error, crate::error::BlockError::Validation { .. }),
        "{error}"
    );
}

#[test]
fn canceled_status_applies_to_a_partially_filled_taker_too() {
    let caches = caches();
    let mut state = State::new(&caches);
    for (owner, size) in [(A, "0.1"), (B, "-0.1")] {
        let p = open_position(owner, size);
        state.positions.insert((p.subaccount_id, 0), p);
    }
    let order = |owner: &str, client_id, side, quantums| IndexerOrder {
        order_id: Some(IndexerOrderId {
            subaccount_id: Some(sub(owner)),
            client_id,
            order_flags: 0,
            clob_pair_id: 0,
        }),
        side,
        quantums,
        subticks: 5_000_000_000,
        good_til_oneof: Some(GoodTilOneof::GoodTilBlock(20)),
        ..Default::default()
    };
    let taker = order(A, 1, 1, 3_000_000_000);
    let taker_uuid = ids::order_uuid(ids::subaccount_uuid(A, 0), 1, 0, 0);
    state
        .canceled
        .insert(taker_uuid, crate::state::CanceledStatus::BestEffortCanceled);
    let outcome = run(
        &state,
        vec![tx_event(
            "order_fill",
            0,
            1,
            ev::OrderFillEventV1 {
                maker_order: Some(order(B, 2, 2, 1_000_000_000)),
                taker_order: Some(ev::order_fill_event_v1::TakerOrder::Order(taker)),
                fill_amount: 1_000_000_000,
                total_filled_maker: 1_000_000_000,
                total_filled_taker: 1_000_000_000,
                ..Default::default()
            },
        )],
    );
    let taker_row = outcome
        .write
        .orders
        .iter()
        .find(|o| o.id == taker_uuid)
        .unwrap();
    assert_eq!(taker_row.status, "BEST_EFFORT_CANCELED", "quirk Q1 fixed");
    let maker_row = outcome
        .write
        .orders
        .iter()
        .find(|o| o.id != taker_uuid)
        .unwrap();
    assert_eq!(maker_row.status, "FILLED");
    // A short-term maker that filled completely is not removed through vulcan (only stateful).
    assert!(vulcan_messages(&outcome)
        .iter()
        .all(|m| matches!(m, UpdateMessage::OrderUpdate(_))));
}

#[test]
fn trading_rewards_credit_wallets_and_tell_subaccount_zero() {
    let caches = caches();
    let state = State::new(&caches);
    let outcome = run(
        &state,
        vec![end_event(
            "trading_reward",
            0,
            ev::TradingRewardsEventV1 {
                trading_rewards: vec![ev::AddressTradingReward {
                    owner: A.into(),
                    denom_amount: indexer_domain::serializable_int::encode(
                        &num_bigint::BigInt::from(2_500_000_000_000_000_000u64),
                    ),
                }],
            },
        )],
    );
    assert_eq!(
        outcome.write.wallets[0].trading_rewards_delta.to_string(),
        "2.5"
    );
    let contents = subaccount_contents(&outcome);
    assert_eq!(
        contents[0]["tradingReward"]["tradingReward"],
        "2.500000000000000000"
    );
    assert_eq!(contents[0]["blockHeight"], "5");
}

#[test]
fn vault_upserted_twice_in_a_block_keeps_its_first_creation_time() {
    let caches = caches();
    let state = State::new(&caches);
    let outcome = run(
        &state,
        vec![
            tx_event(
                "upsert_vault",
                0,
                1,
                ev::UpsertVaultEventV1 {
                    address: B.into(),
                    clob_pair_id: 0,
                    status: 2,
                },
            ),
            tx_event(
                "upsert_vault",
                1,
                1,
                ev::UpsertVaultEventV1 {
                    address: B.into(),
                    clob_pair_id: 0,
                    status: 3,
                },
            ),
        ],
    );
    assert_eq!(outcome.write.vaults.len(), 1);
    assert_eq!(outcome.write.vaults[0].status, "QUOTING");
}

#[test]
fn position_messages_carry_realized_and_unrealized_pnl() {
    let caches = caches();
    let mut state = State::new(&caches);
    let mut p = open_position(A, "0.1");
    p.entry_price = d("40000");
    p.sum_open = d("0.2");
    p.sum_close = d("0.1");
    p.exit_price = Some(d("45000"));
    p.settled_funding = d("-3");
    state.positions.insert((p.subaccount_id, 0), p);
    let outcome = run(
        &state,
        vec![tx_event(
            "subaccount_update",
            0,
            1,
            ev::SubaccountUpdateEventV1 {
                subaccount_id: Some(sub(A)),
                updated_perpetual_positions: vec![
                    indexer_proto::protocol::v1::IndexerPerpetualPosition {
                        perpetual_id: 0,
                        quantums: indexer_domain::serializable_int::encode(
                            &num_bigint::BigInt::from(2_000_000_000u64),
                        ),
                        ..Default::default()
                    },
                ],
                updated_asset_positions: vec![],
            },
        )],
    );
    let pos = &subaccount_contents(&outcome)[0]["perpetualPositions"][0];
    // (45000 − 40000) × 0.1 − 3 and 0.2 × (50000 − 40000).
    assert_eq!(
        (pos["realizedPnl"].as_str(), pos["unrealizedPnl"].as_str()),
        (Some("497"), Some("2000"))
    );
    assert_eq!(
        (
            pos["size"].as_str(),
            pos["maxSize"].as_str(),
            pos["status"].as_str()
        ),
        (Some("0.2"), Some("0.2"), Some("OPEN"))
    );
}

#[test]
fn websocket_messages_carry_source_and_the_receive_time() {
    let caches = caches();
    let mut state = State::new(&caches);
    state.message_timestamp_ms = Some(1_704_067_230_123);
    let outcome = run(&state, vec![]);
    let block_height = &outcome.write.outbox[0];
    assert_eq!(block_height.topic, topics::BLOCK_HEIGHT);
    assert!(block_height
        .headers
        .contains(&("source".into(), "ender".into())));
    assert!(block_height
        .headers
        .contains(&("message_received_timestamp".into(), "1704067230123".into())));
}

#[test]
fn stateful_orders_listed_in_the_skip_list_produce_nothing() {
    use ev::stateful_order_event_v1::{Event, LongTermOrderPlacementV1};
    let caches = caches();
    let mut state = State::new(&caches);
    let order = stateful_order(A, 77, order_flags::LONG_TERM, 1_000_000_000, 5_000_000_000);
    state
        .settings
        .skip_stateful_order_uuids
        .insert(ids::order_uuid(
            ids::subaccount_uuid(A, 0),
            77,
            0,
            order_flags::LONG_TERM,
        ));
    let outcome = run(
        &state,
        vec![tx_event(
            "stateful_order",
            0,
            1,
            stateful(Event::LongTermOrderPlacement(LongTermOrderPlacementV1 {
                order: Some(order),
            })),
        )],
    );
    assert!(outcome.write.orders.is_empty());
    assert!(vulcan_messages(&outcome).is_empty());
    assert_eq!(outcome.notices[0].kind, "skipped_stateful_order");
}
