//! The simulated chain is deterministic, produces what a full node produces (blocks and off-chain
//! updates that decode with the proto types, keyed as the spec says), keeps its books uncrossed
//! and in step with what vulcan would rebuild from the updates, reports subaccount balances that
//! add up to their fills, fees, funding and transfers, and is ingested by ender without error.

use std::collections::HashMap;

use devnet::book::{SIDE_BUY, SIDE_SELL};
use devnet::chain::{
    owner_address, BlockOutput, ChainConfig, SimulatedChain, INITIAL_USDC_QUANTUMS,
};
use devnet::ledger::funding_payment;
use indexer_domain::order_id::order_id_key;
use indexer_domain::serializable_int;
use indexer_proto::events as ev;
use indexer_proto::indexer_manager::indexer_tendermint_event::OrderingWithinBlock;
use indexer_proto::indexer_manager::{IndexerTendermintBlock, IndexerTendermintEvent};
use indexer_proto::off_chain_updates::{off_chain_update_v1::UpdateMessage, OffChainUpdateV1};
use indexer_proto::protocol::v1::{IndexerOrder, IndexerOrderId, IndexerSubaccountId};
use prost::Message;

/// Every kind of traffic, often: liquidations, deleveraging, transfers, funding ticks.
fn busy(seed: u64) -> ChainConfig {
    ChainConfig {
        liquidation_one_in_blocks: 4,
        deleveraging_one_in_blocks: 6,
        transfer_one_in_blocks: 2,
        funding_interval_blocks: 15,
        stateful_order_percent: 25,
        ..ChainConfig::three_markets(seed)
    }
}

fn outputs(config: ChainConfig, count: usize) -> Vec<BlockOutput> {
    let mut chain = SimulatedChain::new(config);
    (0..count).map(|_| chain.next_output()).collect()
}

fn encoded(config: ChainConfig, count: usize) -> Vec<(Vec<Vec<u8>>, Vec<u8>)> {
    outputs(config, count)
        .into_iter()
        .map(|o| {
            let off_chain = o.off_chain.iter().map(|m| m.encode()).collect();
            (off_chain, o.block.encode_to_vec())
        })
        .collect()
}

fn int(bytes: &[u8]) -> i64 {
    if bytes.is_empty() {
        return 0;
    }
    i64::try_from(serializable_int::decode(bytes).unwrap()).unwrap()
}

fn tx_of(event: &IndexerTendermintEvent) -> Option<u32> {
    match event.ordering_within_block {
        Some(OrderingWithinBlock::TransactionIndex(tx)) => Some(tx),
        _ => None,
    }
}

#[test]
fn the_same_seed_yields_the_same_bytes_and_another_seed_different_ones() {
    let config = busy(5);
    assert_eq!(encoded(config.clone(), 150), encoded(config.clone(), 150));
    let other = ChainConfig {
        seed: 6,
        ..config.clone()
    };
    assert_ne!(encoded(config, 150), encoded(other, 150));
}

/// Decodes one event's payload with the message its (subtype, version) names (ingest.md §3.9).
fn decode_payload(event: &IndexerTendermintEvent) -> Result<(), prost::DecodeError> {
    let bytes = event.data_bytes.as_slice();
    match (event.subtype.as_str(), event.version) {
        ("order_fill", 1) => ev::OrderFillEventV1::decode(bytes).map(drop),
        ("subaccount_update", 1) => ev::SubaccountUpdateEventV1::decode(bytes).map(drop),
        ("transfer", 1) => ev::TransferEventV1::decode(bytes).map(drop),
        ("market", 1) => ev::MarketEventV1::decode(bytes).map(drop),
        ("funding_values", 1) => ev::FundingEventV1::decode(bytes).map(drop),
        ("stateful_order", 1) => ev::StatefulOrderEventV1::decode(bytes).map(drop),
        ("asset", 1) => ev::AssetCreateEventV1::decode(bytes).map(drop),
        ("perpetual_market", 3) => ev::PerpetualMarketCreateEventV3::decode(bytes).map(drop),
        ("liquidity_tier", 2) => ev::LiquidityTierUpsertEventV2::decode(bytes).map(drop),
        ("deleveraging", 1) => ev::DeleveragingEventV1::decode(bytes).map(drop),
        (other, version) => panic!("unexpected event {other} v{version}"),
    }
}

#[test]
fn blocks_and_off_chain_updates_decode_with_the_proto_types_and_are_keyed_by_order_id() {
    let mut subtypes: HashMap<String, usize> = HashMap::new();
    let mut updates: HashMap<&str, usize> = HashMap::new();
    for (height, output) in outputs(busy(1), 300).into_iter().enumerate() {
        let block = IndexerTendermintBlock::decode(output.block.encode_to_vec().as_slice())
            .expect("the block decodes");
        assert_eq!(block.height, height as u32);
        let mut expected_index: HashMap<Option<u32>, u32> = HashMap::new();
        for event in &block.events {
            decode_payload(event).unwrap_or_else(|e| panic!("{} decodes: {e}", event.subtype));
            *subtypes.entry(event.subtype.clone()).or_default() += 1;
            let next = expected_index.entry(tx_of(event)).or_default();
            assert_eq!(
                event.event_index, *next,
                "event indexes count up per transaction"
            );
            *next += 1;
            if let Some(tx) = tx_of(event) {
                assert!(
                    (tx as usize) < block.tx_hashes.len(),
                    "event of a missing tx"
                );
            }
        }
        for message in &output.off_chain {
            let update = OffChainUpdateV1::decode(message.encode().as_slice()).unwrap();
            let (kind, id) = match update.update_message.expect("one update is set") {
                UpdateMessage::OrderPlace(p) => ("place", p.order.unwrap().order_id.unwrap()),
                UpdateMessage::OrderUpdate(u) => ("update", u.order_id.unwrap()),
                UpdateMessage::OrderRemove(r) => {
                    assert_ne!(r.reason, 0, "removals carry a reason");
                    assert_ne!(r.removal_status, 0, "removals carry a status");
                    ("remove", r.removed_order_id.unwrap())
                }
                UpdateMessage::OrderReplace(_) => panic!("nodes never send replacements"),
            };
            assert_eq!(
                message.key,
                order_id_key(&id),
                "keyed by SHA-256 of the order id"
            );
            *updates.entry(kind).or_default() += 1;
        }
    }
    for subtype in [
        "order_fill",
        "subaccount_update",
        "transfer",
        "market",
        "funding_values",
        "stateful_order",
        "asset",
        "perpetual_market",
        "liquidity_tier",
        "deleveraging",
    ] {
        assert!(
            subtypes.get(subtype).copied().unwrap_or(0) > 0,
            "no {subtype} event"
        );
    }
    for kind in ["place", "update", "remove"] {
        assert!(
            updates.get(kind).copied().unwrap_or(0) > 100,
            "few {kind}s: {updates:?}"
        );
    }
}

#[test]
fn genesis_creates_markets_tiers_perpetuals_and_block_one_funds_every_account() {
    let config = ChainConfig::with_markets(3, 6);
    let mut chain = SimulatedChain::new(config.clone());
    let genesis = chain.next_block();
    let count = |block: &IndexerTendermintBlock, subtype: &str| {
        block.events.iter().filter(|e| e.subtype == subtype).count()
    };
    assert_eq!(count(&genesis, "perpetual_market"), 6);
    assert_eq!(count(&genesis, "asset"), 1);
    assert_eq!(count(&genesis, "liquidity_tier"), 3);
    assert_eq!(
        count(&genesis, "market"),
        12,
        "a create and a first price per market"
    );
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
    assert_eq!(
        tickers,
        ["BTC-USD", "ETH-USD", "SOL-USD", "AVAX-USD", "LINK-USD", "DOGE-USD"]
    );
    let first = chain.next_block();
    let deposits: Vec<ev::TransferEventV1> = first
        .events
        .iter()
        .filter(|e| e.subtype == "transfer")
        .map(|e| ev::TransferEventV1::decode(e.data_bytes.as_slice()).unwrap())
        .collect();
    assert_eq!(deposits.len(), config.accounts);
    for (account, deposit) in deposits.iter().enumerate() {
        let sender = deposit.sender.clone().unwrap().source.unwrap();
        assert_eq!(
            sender,
            ev::source_of_funds::Source::Address(owner_address(account))
        );
        assert_eq!(deposit.amount, INITIAL_USDC_QUANTUMS as u64);
    }
}

/// What vulcan keeps per order (ingest.md §5.3–5.5): the order, its total filled and whether it
/// rests; levels by (market, side, price).
#[derive(Default)]
struct VulcanReplay {
    orders: HashMap<Vec<u8>, (IndexerOrder, u64, bool)>,
    levels: HashMap<(u32, i32, u64), i64>,
}

impl VulcanReplay {
    fn apply(&mut self, update: UpdateMessage) {
        match update {
            UpdateMessage::OrderPlace(place) => {
                let order = place.order.unwrap();
                let key = order.order_id.clone().unwrap().encode_to_vec();
                self.orders.entry(key).or_insert((order, 0, false));
            }
            UpdateMessage::OrderUpdate(update) => {
                let id = update.order_id.unwrap();
                let Some((order, filled, resting)) = self.orders.get_mut(&id.encode_to_vec())
                else {
                    return;
                };
                let new = update.total_filled_quantums.min(order.quantums);
                let delta = if *resting {
                    *filled as i64 - new as i64
                } else {
                    order.quantums as i64 - new as i64
                };
                *filled = new;
                *resting = true;
                if order.time_in_force != 1 {
                    *self
                        .levels
                        .entry((id.clob_pair_id, order.side, order.subticks))
                        .or_default() += delta;
                }
            }
            UpdateMessage::OrderRemove(remove) => self.remove(&remove.removed_order_id.unwrap()),
            UpdateMessage::OrderReplace(_) => unreachable!(),
        }
    }

    fn remove(&mut self, id: &IndexerOrderId) {
        if let Some((order, filled, resting)) = self.orders.remove(&id.encode_to_vec()) {
            if resting && order.time_in_force != 1 {
                *self
                    .levels
                    .entry((id.clob_pair_id, order.side, order.subticks))
                    .or_default() -= order.quantums as i64 - filled as i64;
            }
        }
    }

    /// On-chain stateful removals, which ender relays to vulcan after the block.
    fn apply_block(&mut self, block: &IndexerTendermintBlock) {
        for event in block
            .events
            .iter()
            .filter(|e| e.subtype == "stateful_order")
        {
            let stateful = ev::StatefulOrderEventV1::decode(event.data_bytes.as_slice()).unwrap();
            if let Some(ev::stateful_order_event_v1::Event::OrderRemoval(removal)) = stateful.event
            {
                self.remove(&removal.removed_order_id.unwrap());
            }
        }
    }

    fn side(&self, market: u32, side: i32) -> Vec<(u64, u64)> {
        let mut levels: Vec<(u64, u64)> = self
            .levels
            .iter()
            .filter(|((m, s, _), size)| *m == market && *s == side && **size != 0)
            .map(|((_, _, price), size)| (*price, u64::try_from(*size).expect("levels >= 0")))
            .collect();
        levels.sort_unstable();
        if side == SIDE_BUY {
            levels.reverse();
        }
        levels
    }
}

#[test]
fn books_never_cross_and_equal_what_vulcan_rebuilds_from_the_updates() {
    let mut chain = SimulatedChain::new(busy(8));
    let mut vulcan = VulcanReplay::default();
    let mut resting_seen = 0;
    for _ in 0..400 {
        let output = chain.next_output();
        for message in output.off_chain {
            vulcan.apply(message.update.update_message.unwrap());
        }
        vulcan.apply_block(&output.block);
        for (market, book) in chain.books().iter().enumerate() {
            assert!(!book.is_crossed(), "market {market} crossed");
            resting_seen += book.len();
            for side in [SIDE_BUY, SIDE_SELL] {
                assert_eq!(
                    vulcan.side(market as u32, side),
                    book.levels(side),
                    "market {market} side {side} at height {}",
                    output.block.height
                );
            }
        }
    }
    assert!(
        resting_seen > 4_000,
        "the books hold orders: {resting_seen}"
    );
}

/// Effects of the non-update events of one transaction on USDC, per owner.
fn usdc_effects(
    chain: &SimulatedChain,
    events: &[&IndexerTendermintEvent],
) -> HashMap<String, i64> {
    let mut effects: HashMap<String, i64> = HashMap::new();
    let mut add = |id: &IndexerSubaccountId, amount: i64| {
        *effects.entry(id.owner.clone()).or_default() += amount;
    };
    for event in events {
        let bytes = event.data_bytes.as_slice();
        match event.subtype.as_str() {
            "order_fill" => {
                let fill = ev::OrderFillEventV1::decode(bytes).unwrap();
                let maker = fill.maker_order.unwrap();
                let id = maker.order_id.clone().unwrap();
                let spec = &chain.config().markets[id.clob_pair_id as usize];
                let quote = spec.quote_quantums(fill.fill_amount, maker.subticks);
                let pays = |side: i32| if side == SIDE_BUY { -quote } else { quote };
                add(
                    id.subaccount_id.as_ref().unwrap(),
                    pays(maker.side) - fill.maker_fee,
                );
                match fill.taker_order.unwrap() {
                    ev::order_fill_event_v1::TakerOrder::Order(taker) => {
                        let taker_id = taker.order_id.unwrap().subaccount_id.unwrap();
                        add(&taker_id, pays(taker.side) - fill.taker_fee);
                    }
                    ev::order_fill_event_v1::TakerOrder::LiquidationOrder(liquidation) => {
                        let side = if liquidation.is_buy {
                            SIDE_BUY
                        } else {
                            SIDE_SELL
                        };
                        add(
                            &liquidation.liquidated.unwrap(),
                            pays(side) - fill.taker_fee,
                        );
                    }
                }
            }
            "deleveraging" => {
                let d = ev::DeleveragingEventV1::decode(bytes).unwrap();
                let quote = d.total_quote_quantums as i64;
                let liquidated_pays = if d.is_buy { -quote } else { quote };
                add(&d.liquidated.unwrap(), liquidated_pays);
                add(&d.offsetting.unwrap(), -liquidated_pays);
            }
            "transfer" => {
                let t = ev::TransferEventV1::decode(bytes).unwrap();
                let amount = t.amount as i64;
                if let Some(ev::source_of_funds::Source::SubaccountId(id)) =
                    t.sender.unwrap().source
                {
                    add(&id, -amount);
                }
                if let Some(ev::source_of_funds::Source::SubaccountId(id)) =
                    t.recipient.unwrap().source
                {
                    add(&id, amount);
                }
            }
            _ => {}
        }
    }
    effects
}

/// Replays every transaction: each subaccount's USDC at the end of a transaction equals its
/// balance before plus the transaction's trades, fees and transfers minus the funding it settled;
/// each funding payment is the position times the index move since its last settlement; each
/// perpetual size equals the sum of its fills; and the chain's own ledger agrees at the end.
#[test]
fn subaccount_balances_equal_the_sum_of_fills_fees_funding_and_transfers() {
    let mut chain = SimulatedChain::new(busy(9));
    let mut usdc: HashMap<String, i64> = HashMap::new();
    // (owner, perpetual) → (size, funding index at last settlement)
    let mut positions: HashMap<(String, u32), (i64, i64)> = HashMap::new();
    let mut index: HashMap<u32, i64> = HashMap::new();
    let (mut fills, mut payments, mut liquidations) = (0, 0, 0);
    for _ in 0..500 {
        let block = chain.next_block();
        let mut by_tx: Vec<Vec<&IndexerTendermintEvent>> = vec![vec![]; block.tx_hashes.len()];
        // END_BLOCK funding ticks move the index after the block's transactions.
        let mut ticks = Vec::new();
        for event in &block.events {
            match tx_of(event) {
                Some(tx) => by_tx[tx as usize].push(event),
                None if event.subtype == "funding_values" => {
                    let funding = ev::FundingEventV1::decode(event.data_bytes.as_slice()).unwrap();
                    if funding.r#type == 2 {
                        ticks.extend(funding.updates);
                    }
                }
                None => {}
            }
        }
        for events in by_tx {
            let mut funding_paid: HashMap<String, i64> = HashMap::new();
            let mut last_usdc: HashMap<String, i64> = HashMap::new();
            let mut size_changes: HashMap<(String, u32), i64> = HashMap::new();
            let before = usdc.clone();
            for event in &events {
                match event.subtype.as_str() {
                    "subaccount_update" => {
                        let update =
                            ev::SubaccountUpdateEventV1::decode(event.data_bytes.as_slice())
                                .unwrap();
                        let owner = update.subaccount_id.unwrap().owner;
                        for p in update.updated_perpetual_positions {
                            let key = (owner.clone(), p.perpetual_id);
                            let (size, settled_at) = positions.get(&key).copied().unwrap_or((0, 0));
                            let now = index.get(&p.perpetual_id).copied().unwrap_or(0);
                            assert_eq!(int(&p.funding_index), now, "settled at the current index");
                            let payment = int(&p.funding_payment);
                            assert_eq!(payment, funding_payment(size, settled_at, now));
                            payments += usize::from(payment != 0);
                            *funding_paid.entry(owner.clone()).or_default() += payment;
                            *size_changes.entry(key.clone()).or_default() +=
                                int(&p.quantums) - size;
                            positions.insert(key, (int(&p.quantums), now));
                        }
                        for a in update.updated_asset_positions {
                            last_usdc.insert(owner.clone(), int(&a.quantums));
                        }
                    }
                    "order_fill" => {
                        fills += 1;
                        let fill =
                            ev::OrderFillEventV1::decode(event.data_bytes.as_slice()).unwrap();
                        if matches!(
                            fill.taker_order,
                            Some(ev::order_fill_event_v1::TakerOrder::LiquidationOrder(_))
                        ) {
                            liquidations += 1;
                        }
                    }
                    _ => {}
                }
            }
            let effects = usdc_effects(&chain, &events);
            for (owner, balance) in &last_usdc {
                let expected = before.get(owner).copied().unwrap_or(0)
                    + effects.get(owner).copied().unwrap_or(0)
                    - funding_paid.get(owner).copied().unwrap_or(0);
                assert_eq!(
                    *balance, expected,
                    "USDC of {owner} at height {}",
                    block.height
                );
                usdc.insert(owner.clone(), *balance);
            }
            for owner in effects.keys() {
                assert!(
                    last_usdc.contains_key(owner),
                    "{owner} moved money without an update"
                );
            }
            assert_sizes_follow_fills(&chain, &events, &size_changes);
        }
        for tick in ticks {
            index.insert(tick.perpetual_id, int(&tick.funding_index));
        }
    }
    assert!(fills > 200, "the chain trades: {fills} fills");
    assert!(liquidations > 5, "liquidations: {liquidations}");
    assert!(payments > 20, "funding is settled: {payments} payments");
    for account in 0..chain.config().accounts {
        let owner = owner_address(account);
        assert_eq!(usdc[&owner], chain.usdc(account));
        for market in 0..3u32 {
            let size = positions.get(&(owner.clone(), market)).map_or(0, |p| p.0);
            assert_eq!(size, chain.position(account, market as usize));
        }
    }
    for market in 0..3u32 {
        let net: i64 = positions
            .iter()
            .filter(|((_, m), _)| *m == market)
            .map(|(_, (size, _))| size)
            .sum();
        assert_eq!(net, 0, "market {market} nets to zero");
    }
}

/// The size changes reported by a transaction's updates equal its fills and deleveragings.
fn assert_sizes_follow_fills(
    chain: &SimulatedChain,
    events: &[&IndexerTendermintEvent],
    reported: &HashMap<(String, u32), i64>,
) {
    let mut expected: HashMap<(String, u32), i64> = HashMap::new();
    let mut add = |id: IndexerSubaccountId, market: u32, side: i32, amount: u64| {
        let signed = if side == SIDE_BUY {
            amount as i64
        } else {
            -(amount as i64)
        };
        *expected.entry((id.owner, market)).or_default() += signed;
    };
    for event in events {
        let bytes = event.data_bytes.as_slice();
        match event.subtype.as_str() {
            "order_fill" => {
                let fill = ev::OrderFillEventV1::decode(bytes).unwrap();
                let maker = fill.maker_order.unwrap();
                let id = maker.order_id.unwrap();
                add(
                    id.subaccount_id.unwrap(),
                    id.clob_pair_id,
                    maker.side,
                    fill.fill_amount,
                );
                match fill.taker_order.unwrap() {
                    ev::order_fill_event_v1::TakerOrder::Order(taker) => {
                        let id = taker.order_id.unwrap();
                        add(
                            id.subaccount_id.unwrap(),
                            id.clob_pair_id,
                            taker.side,
                            fill.fill_amount,
                        );
                    }
                    ev::order_fill_event_v1::TakerOrder::LiquidationOrder(l) => {
                        let side = if l.is_buy { SIDE_BUY } else { SIDE_SELL };
                        add(
                            l.liquidated.unwrap(),
                            l.clob_pair_id,
                            side,
                            fill.fill_amount,
                        );
                    }
                }
            }
            "deleveraging" => {
                let d = ev::DeleveragingEventV1::decode(bytes).unwrap();
                let side = if d.is_buy { SIDE_BUY } else { SIDE_SELL };
                let other = if d.is_buy { SIDE_SELL } else { SIDE_BUY };
                add(d.liquidated.unwrap(), d.perpetual_id, side, d.fill_amount);
                add(d.offsetting.unwrap(), d.perpetual_id, other, d.fill_amount);
            }
            _ => {}
        }
    }
    let moved: HashMap<&(String, u32), &i64> = reported.iter().filter(|(_, v)| **v != 0).collect();
    let traded: HashMap<&(String, u32), &i64> = expected.iter().filter(|(_, v)| **v != 0).collect();
    assert_eq!(
        moved,
        traded,
        "sizes follow the fills ({} markets)",
        chain.config().markets.len()
    );
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
                for update in &funding.updates {
                    assert_eq!(
                        int(&update.funding_index),
                        chain.funding_index(update.perpetual_id as usize)
                    );
                }
            }
        }
    }
    assert_eq!(tick_heights, [10, 20, 30, 40, 50]);
    assert!(chain.funding_index(0) > 0, "positive rates raise the index");
}

#[test]
fn order_prices_are_on_ticks_and_subticks_render_the_oracle_price() {
    let mut chain = SimulatedChain::new(ChainConfig::with_markets(4, 6));
    for _ in 0..100 {
        let output = chain.next_output();
        for message in output.off_chain {
            if let Some(UpdateMessage::OrderPlace(place)) = message.update.update_message {
                let order = place.order.unwrap();
                let spec = &chain.config().markets[order.order_id.unwrap().clob_pair_id as usize];
                assert_eq!(order.subticks % u64::from(spec.subticks_per_tick), 0);
                assert_eq!(order.quantums % spec.step_base_quantums, 0);
                assert!(order.subticks > 0);
            }
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

#[test]
fn account_addresses_are_valid_distinct_bech32_dydx_addresses() {
    let addresses: Vec<String> = (0..50).map(owner_address).collect();
    for (i, address) in addresses.iter().enumerate() {
        let parsed: cosmrs::AccountId = address.parse().expect("valid bech32");
        assert_eq!(parsed.prefix(), "dydx");
        assert_eq!(parsed.to_bytes().len(), 20);
        assert!(!addresses[..i].contains(address), "addresses are distinct");
    }
}

/// Ender's real block path (`Ender::handle`: decode, validate, one transaction per block) takes
/// every block into a fresh database, and what it stores agrees with the chain: USDC balances,
/// open positions, every kind of fill, funding index updates and the block-1 deposits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ender_ingests_the_chain_into_a_fresh_database_and_agrees_with_its_ledger() {
    use ender::consumer::{Ender, GateSettings, Verdict};
    use ender::pipeline::BlockInputs;
    use ender::state::ProcessSettings;

    const BLOCKS: usize = 300;
    let db = indexer_testkit::db::TestDb::new().await;
    let mut ender = Ender::start(
        db.pool().clone(),
        GateSettings::default(),
        ProcessSettings::default(),
    )
    .await
    .unwrap();
    let mut chain = SimulatedChain::new(busy(11));
    for _ in 0..BLOCKS {
        let height = chain.height();
        let block = chain.next_block_bytes();
        match ender.handle(&block, BlockInputs::default()).await {
            Ok(Verdict::Processed { .. }) => {}
            other => panic!("block {height}: {other:?}"),
        }
    }
    let pool = db.pool();

    let balances: Vec<(String, i64)> = sqlx::query_as(
        r#"SELECT s.address,
                  ((CASE WHEN ap."isLong" THEN ap.size ELSE -ap.size END) * 1000000)::bigint
           FROM asset_positions ap JOIN subaccounts s ON s.id = ap."subaccountId""#,
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let accounts = chain.config().accounts;
    assert_eq!(balances.len(), accounts);
    for (address, quantums) in balances {
        let account = (0..accounts)
            .find(|a| owner_address(*a) == address)
            .unwrap();
        assert_eq!(quantums, chain.usdc(account), "USDC of {address}");
    }

    let open: Vec<(String, i64, i64)> = sqlx::query_as(
        r#"SELECT s.address, pp."perpetualId",
                  ((CASE WHEN pp.side = 'LONG' THEN pp.size ELSE -abs(pp.size) END)
                    * power(10::numeric, -pm."atomicResolution"))::bigint
           FROM perpetual_positions pp
           JOIN subaccounts s ON s.id = pp."subaccountId"
           JOIN perpetual_markets pm ON pm.id = pp."perpetualId"
           WHERE pp.status = 'OPEN' AND pp.size <> 0"#,
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut expected_open = 0;
    for account in 0..accounts {
        for market in 0..chain.config().markets.len() {
            if chain.position(account, market) != 0 {
                expected_open += 1;
            }
        }
    }
    assert_eq!(open.len(), expected_open, "one open row per open position");
    for (address, perpetual, size) in open {
        let account = (0..accounts)
            .find(|a| owner_address(*a) == address)
            .unwrap();
        assert_eq!(
            size,
            chain.position(account, perpetual as usize),
            "{address} {perpetual}"
        );
    }

    let fill_types: Vec<(String, i64)> =
        sqlx::query_as("SELECT type, count(*) FROM fills GROUP BY type ORDER BY type")
            .fetch_all(pool)
            .await
            .unwrap();
    let types: Vec<&str> = fill_types.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "DELEVERAGED",
            "LIMIT",
            "LIQUIDATED",
            "LIQUIDATION",
            "OFFSETTING"
        ]
    );
    let (ticks,): (i64,) = sqlx::query_as("SELECT count(*) FROM funding_index_updates")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(
        ticks,
        3 * ((BLOCKS as i64 - 1) / 15),
        "a tick per perpetual every 15 blocks"
    );
    let (deposits,): (i64,) =
        sqlx::query_as(r#"SELECT count(*) FROM transfers WHERE "senderWalletAddress" IS NOT NULL"#)
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(deposits >= accounts as i64);
    db.cleanup().await;
}

/// A `to-vulcan` message's key and value with its Kafka timestamp or its block height.
type KeyedMessage<T> = (Vec<u8>, Vec<u8>, T);

/// The binary publishes exactly the library's output: every block on `to-ender` in height
/// order, and before each block its off-chain updates on `to-vulcan`, each on the partition
/// murmur2 of its order-id key picks, in generation order within a partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_publishes_each_blocks_off_chain_updates_then_the_block() {
    use indexer_bus::consumer::{BusConsumer, ConsumerOptions, Decoder, StartAt};
    use indexer_bus::partition::partition_for_key;
    use indexer_bus::topics::{Topic, TopicLayout};
    use indexer_testkit::kafka::TestTopics;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    const BLOCKS: usize = 25;
    const PARTITIONS: i32 = 8;
    let topics =
        TestTopics::with_layout(TopicLayout::uniform(1).with(Topic::ToVulcan, PARTITIONS)).await;
    // The binary's documented defaults with these settings.
    let config = ChainConfig {
        accounts: 6,
        funding_interval_blocks: 3_600,
        block_interval_secs: 1,
        genesis_time_secs: 1_704_067_200,
        ..ChainConfig::with_markets(3, 3)
    };
    let expected = outputs(config, BLOCKS);
    let mut devnet = Command::new(env!("CARGO_BIN_EXE_devnet"))
        .env("ADMIN_HOST", "127.0.0.1")
        .env("ADMIN_PORT", "0")
        .env("NODE_ENV", "test")
        .env("LOG_LEVEL", "warn")
        .env_remove("BUGSNAG_KEY")
        .env("KAFKA_TOPIC_PREFIX", &topics.settings.topic_prefix)
        .env("DEVNET_SEED", "3")
        .env("DEVNET_MARKETS", "3")
        .env("DEVNET_ACCOUNTS", "6")
        .env("DEVNET_GENESIS_TIME", "1704067200")
        .env("DEVNET_BLOCKS_PER_SECOND", "max")
        .env("DEVNET_BLOCKS", BLOCKS.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("devnet starts");

    let decoder: Decoder<Vec<u8>> = Box::new(|bytes: &[u8]| Ok(bytes.to_vec()));
    let options = ConsumerOptions::new(
        format!("devnet-test-{}", uuid::Uuid::new_v4()),
        [Topic::ToEnder, Topic::ToVulcan],
    );
    let consumer = BusConsumer::assign(&topics.settings, &options, StartAt::Beginning, decoder)
        .await
        .unwrap();
    let ender_topic = topics.name(Topic::ToEnder);
    let wanted_updates: usize = expected.iter().map(|o| o.off_chain.len()).sum();
    let mut blocks: Vec<(Vec<u8>, i64)> = Vec::new();
    let mut updates: HashMap<i32, Vec<KeyedMessage<i64>>> = HashMap::new();
    let mut received_updates = 0;
    while blocks.len() < BLOCKS || received_updates < wanted_updates {
        let message = tokio::time::timeout(Duration::from_secs(60), consumer.next())
            .await
            .expect("devnet publishes everything")
            .unwrap();
        let time = message.meta.timestamp_ms.unwrap();
        if message.meta.topic == ender_topic {
            blocks.push((message.value, time));
        } else {
            received_updates += 1;
            let key = message
                .meta
                .key
                .clone()
                .expect("to-vulcan messages are keyed");
            updates
                .entry(message.meta.partition)
                .or_default()
                .push((key, message.value, time));
        }
    }
    devnet.kill().unwrap();
    devnet.wait().unwrap();
    drop(consumer);

    let mut expected_by_partition: HashMap<i32, Vec<KeyedMessage<usize>>> = HashMap::new();
    for (height, output) in expected.iter().enumerate() {
        assert_eq!(
            blocks[height].0,
            output.block.encode_to_vec(),
            "block {height}"
        );
        for message in &output.off_chain {
            expected_by_partition
                .entry(partition_for_key(&message.key, PARTITIONS))
                .or_default()
                .push((message.key.to_vec(), message.encode(), height));
        }
    }
    assert!(
        expected_by_partition.len() > 1,
        "updates spread over partitions"
    );
    for (partition, wanted) in expected_by_partition {
        let got = &updates[&partition];
        assert_eq!(got.len(), wanted.len(), "partition {partition}");
        for ((key, value, time), (wanted_key, wanted_value, height)) in got.iter().zip(wanted) {
            assert_eq!((key, value), (&wanted_key, &wanted_value));
            assert!(
                *time <= blocks[height].1,
                "an update of block {height} came after it"
            );
        }
    }
    topics.cleanup().await.unwrap();
}

/// Vulcan's real processing path (against the real Redis) fed the chain's off-chain updates one
/// message at a time rebuilds exactly the node's books, level by level, after every block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vulcan_rebuilds_the_nodes_books_from_the_off_chain_updates() {
    vulcan_rebuilds_books(Some(1)).await;
}

/// The same with each block's updates as one batch, as vulcan's consumer hands them over. (It
/// caught a level emptied and refilled within one batch being flushed with a stale size.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vulcan_rebuilds_the_nodes_books_from_whole_block_batches() {
    vulcan_rebuilds_books(None).await;
}

/// Feeds vulcan's `Processor` the chain's off-chain updates in batches of `batch_size` (None: a
/// block's updates per batch) and compares the Redis levels with the node's books.
async fn vulcan_rebuilds_books(batch_size: Option<usize>) {
    use indexer_base::config::{Env, RedisSettings};
    use indexer_bus::MessageHeaders;
    use indexer_cache::{book_snapshot, Cache};
    use std::time::Instant;
    use vulcan::markets::{Context, Market, Markets};
    use vulcan::pipeline::{Inbound, Processor, ProcessorSettings};

    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let env = Env::from_pairs([("REDIS_KEY_PREFIX", prefix.as_str())]);
    let cache = Cache::connect(&RedisSettings::from_env(&env).unwrap())
        .await
        .unwrap();
    // Stateful orders need ender's database rows; this test is about the node's messages.
    let config = ChainConfig {
        stateful_order_percent: 0,
        liquidation_one_in_blocks: 5,
        ..ChainConfig::three_markets(12)
    };
    let markets: Vec<Market> = config
        .markets
        .iter()
        .enumerate()
        .map(|(id, spec)| Market {
            clob_pair_id: id as u32,
            ticker: spec.ticker.clone(),
            params: indexer_domain::MarketParams {
                atomic_resolution: spec.atomic_resolution,
                quantum_conversion_exponent: spec.quantum_conversion_exponent,
                subticks_per_tick: spec.subticks_per_tick,
                step_base_quantums: spec.step_base_quantums,
            },
        })
        .collect();
    let context = Context::new(Markets::new(markets.clone()), Some(0));
    let processor = Processor::new(cache.clone(), None, context, ProcessorSettings::default());
    let mut chain = SimulatedChain::new(config);
    let mut compared_levels = 0;
    for _ in 0..150 {
        let output = chain.next_output();
        let batch: Vec<Inbound> = output
            .off_chain
            .iter()
            .map(|m| Inbound {
                raw: m.encode(),
                update: m.update.clone(),
                key: Some(m.key.to_vec()),
                headers: MessageHeaders::new(),
                kafka_timestamp_ms: Some(1_700_000_000_000),
                received: Instant::now(),
                meta: None,
            })
            .collect();
        for chunk in batch.chunks(batch_size.unwrap_or(batch.len()).max(1)) {
            let processed = processor.process(chunk).await.unwrap();
            assert!(
                processed.dead_letters.is_empty(),
                "{:?}",
                processed.dead_letters
            );
        }
        for (id, market) in markets.iter().enumerate() {
            let snapshot = book_snapshot(&cache, &market.ticker).await.unwrap();
            for side in [SIDE_BUY, SIDE_SELL] {
                let stored = if side == SIDE_BUY {
                    &snapshot.bids
                } else {
                    &snapshot.asks
                };
                let mut redis: Vec<(String, i64)> = stored
                    .iter()
                    .filter(|l| l.size_quantums > 0)
                    .map(|l| (l.price.clone(), l.size_quantums))
                    .collect();
                redis.sort();
                let mut node: Vec<(String, i64)> = chain.books()[id]
                    .levels(side)
                    .into_iter()
                    .map(|(price, size)| (market.price(price), size as i64))
                    .collect();
                node.sort();
                compared_levels += node.len();
                assert_eq!(
                    redis, node,
                    "{} side {side} block {}",
                    market.ticker, output.block.height
                );
            }
        }
    }
    assert!(
        compared_levels > 1_000,
        "books had levels: {compared_levels}"
    );
    cache.clear().await.unwrap();
}
