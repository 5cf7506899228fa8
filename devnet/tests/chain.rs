//! The simulated chain is deterministic, produces decodable height-ordered blocks, and keeps the
//! subaccount updates it emits consistent with its fills.

use std::collections::HashMap;

use devnet::chain::{owner_address, ChainConfig, SimulatedChain};
use indexer_domain::serializable_int;
use indexer_proto::events as ev;
use indexer_proto::indexer_manager::indexer_tendermint_event::OrderingWithinBlock;
use indexer_proto::indexer_manager::IndexerTendermintBlock;
use prost::Message;

fn blocks(config: ChainConfig, count: usize) -> Vec<Vec<u8>> {
    let mut chain = SimulatedChain::new(config);
    (0..count).map(|_| chain.next_block_bytes()).collect()
}

fn int(bytes: &[u8]) -> i64 {
    if bytes.is_empty() {
        return 0;
    }
    i64::try_from(serializable_int::decode(bytes).unwrap()).unwrap()
}

#[test]
fn the_same_seed_yields_the_same_chain_and_another_seed_a_different_one() {
    let config = ChainConfig::three_markets(5);
    assert_eq!(blocks(config.clone(), 200), blocks(config.clone(), 200));
    let other = ChainConfig {
        seed: 6,
        ..config.clone()
    };
    assert_ne!(blocks(config, 200), blocks(other, 200));
}

#[test]
fn every_block_decodes_with_consecutive_heights_and_increasing_times() {
    let encoded = blocks(ChainConfig::three_markets(1), 300);
    let decoded: Vec<IndexerTendermintBlock> = encoded
        .iter()
        .map(|bytes| IndexerTendermintBlock::decode(bytes.as_slice()).unwrap())
        .collect();
    for (expected, block) in decoded.iter().enumerate() {
        assert_eq!(block.height, expected as u32);
        for event in &block.events {
            if let Some(OrderingWithinBlock::TransactionIndex(tx)) = event.ordering_within_block {
                assert!(
                    (tx as usize) < block.tx_hashes.len(),
                    "event of a missing tx"
                );
            }
        }
    }
    for pair in decoded.windows(2) {
        assert!(pair[0].time.unwrap().seconds < pair[1].time.unwrap().seconds);
    }
}

#[test]
fn genesis_creates_every_market_perpetual_and_funded_account() {
    let config = ChainConfig::three_markets(3);
    let genesis = SimulatedChain::new(config.clone()).next_block();
    let count = |subtype: &str| {
        genesis
            .events
            .iter()
            .filter(|e| e.subtype == subtype)
            .count()
    };
    assert_eq!(count("perpetual_market"), 3);
    assert_eq!(count("asset"), 1);
    assert_eq!(count("liquidity_tier"), 1);
    assert_eq!(count("market"), 6, "a create and a first price per market");
    assert_eq!(count("subaccount_update"), config.accounts);
    let tickers: Vec<String> = genesis
        .events
        .iter()
        .filter(|e| e.subtype == "perpetual_market")
        .map(|e| {
            ev::PerpetualMarketCreateEventV3::decode(e.data_bytes.as_slice())
                .unwrap()
                .ticker
        })
        .collect();
    assert_eq!(tickers, ["BTC-USD", "ETH-USD", "SOL-USD"]);
}

/// Replays the fills: each subaccount update in a fill's transaction must carry the previous
/// position plus or minus the fill amount, by the order's side, and every market nets to zero.
#[test]
fn subaccount_updates_carry_the_positions_the_fills_add_up_to() {
    let mut chain = SimulatedChain::new(ChainConfig::three_markets(9));
    let mut positions: HashMap<(String, u32), i64> = HashMap::new();
    let mut fills = 0;
    for _ in 0..400 {
        let block = chain.next_block();
        let mut updates_of_tx: HashMap<u32, HashMap<(String, u32), i64>> = HashMap::new();
        for event in &block.events {
            let Some(OrderingWithinBlock::TransactionIndex(tx)) = event.ordering_within_block
            else {
                continue;
            };
            match event.subtype.as_str() {
                "subaccount_update" => {
                    let update =
                        ev::SubaccountUpdateEventV1::decode(event.data_bytes.as_slice()).unwrap();
                    let owner = update.subaccount_id.unwrap().owner;
                    for p in update.updated_perpetual_positions {
                        updates_of_tx
                            .entry(tx)
                            .or_default()
                            .insert((owner.clone(), p.perpetual_id), int(&p.quantums));
                    }
                }
                "order_fill" => {
                    fills += 1;
                    let fill = ev::OrderFillEventV1::decode(event.data_bytes.as_slice()).unwrap();
                    let maker = fill.maker_order.unwrap();
                    let Some(ev::order_fill_event_v1::TakerOrder::Order(taker)) = fill.taker_order
                    else {
                        panic!("taker is an order");
                    };
                    let updates = &updates_of_tx[&tx];
                    for order in [maker, taker] {
                        let id = order.order_id.unwrap();
                        let key = (id.subaccount_id.unwrap().owner, id.clob_pair_id);
                        let before = positions.get(&key).copied().unwrap_or(0);
                        let signed = fill.fill_amount as i64;
                        let delta = if order.side == 1 { signed } else { -signed };
                        assert_eq!(updates[&key], before + delta, "position of {key:?}");
                        positions.insert(key, before + delta);
                    }
                }
                _ => {}
            }
        }
    }
    assert!(fills > 100, "the chain trades: {fills} fills");
    for market in 0..3u32 {
        let net: i64 = positions
            .iter()
            .filter(|((_, m), _)| *m == market)
            .map(|(_, size)| size)
            .sum();
        assert_eq!(net, 0, "market {market} nets to zero");
        for account in 0..4 {
            assert_eq!(
                positions
                    .get(&(owner_address(account), market))
                    .copied()
                    .unwrap_or(0),
                chain.position(account, market as usize)
            );
        }
    }
}

#[test]
fn funding_ticks_arrive_every_interval_for_every_perpetual() {
    let config = ChainConfig {
        funding_interval_blocks: 10,
        ..ChainConfig::three_markets(2)
    };
    let mut chain = SimulatedChain::new(config);
    chain.next_block();
    let mut tick_heights = Vec::new();
    for _ in 1..=50 {
        let block = chain.next_block();
        for event in block
            .events
            .iter()
            .filter(|e| e.subtype == "funding_values")
        {
            let funding = ev::FundingEventV1::decode(event.data_bytes.as_slice()).unwrap();
            assert_eq!(funding.updates.len(), 3);
            if funding.r#type == 2 {
                tick_heights.push(block.height);
                assert!(funding.updates.iter().all(|u| !u.funding_index.is_empty()));
            }
        }
    }
    assert_eq!(tick_heights, [10, 20, 30, 40, 50]);
}

#[test]
fn fill_prices_track_the_oracle_price_in_subticks() {
    let mut chain = SimulatedChain::new(ChainConfig::three_markets(4));
    chain.next_block();
    for _ in 0..100 {
        let block = chain.next_block();
        for event in block.events.iter().filter(|e| e.subtype == "order_fill") {
            let fill = ev::OrderFillEventV1::decode(event.data_bytes.as_slice()).unwrap();
            let maker = fill.maker_order.unwrap();
            let market = maker.order_id.unwrap().clob_pair_id as usize;
            let spec = &chain.config().markets[market];
            assert_eq!(maker.subticks, spec.subticks_at(chain.prices()[market]));
            assert_eq!(maker.subticks % u64::from(spec.subticks_per_tick), 0);
        }
    }
    // BTC at $50,000 (oracle 5e9 × 10^-5) is 5e9 subticks, the spec's worked example
    // (ingest.md §3.10: price = subticks × 10^(-9 - 6 + 10)).
    let btc = &chain.config().markets[0];
    assert_eq!(btc.subticks_at(5_000_000_000), 5_000_000_000);
    // Every market: the subticks render back to the oracle's human price.
    for spec in &chain.config().markets {
        let params = indexer_domain::MarketParams {
            atomic_resolution: spec.atomic_resolution,
            quantum_conversion_exponent: spec.quantum_conversion_exponent,
            subticks_per_tick: spec.subticks_per_tick,
            step_base_quantums: spec.step_base_quantums,
        };
        let human = indexer_domain::Decimal::from_scaled(spec.initial_price, spec.exponent.into());
        assert_eq!(
            params
                .price(spec.subticks_at(spec.initial_price))
                .to_string(),
            human.trim().to_string(),
            "{}",
            spec.ticker
        );
    }
}
