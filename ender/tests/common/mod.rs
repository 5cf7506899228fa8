//! A small deterministic chain for tests: a genesis block with one market, then blocks with
//! oracle price moves, matched fills (each preceded by the subaccount updates the protocol emits
//! for a match), transfers, premium samples every block and a funding tick every 60 blocks.

#![allow(dead_code)]

use indexer_domain::serializable_int;
use indexer_proto::events as ev;
use indexer_proto::indexer_manager::indexer_tendermint_event::{BlockEvent, OrderingWithinBlock};
use indexer_proto::indexer_manager::{IndexerTendermintBlock, IndexerTendermintEvent};
use indexer_proto::protocol::v1::{
    indexer_order::GoodTilOneof, IndexerAssetPosition, IndexerOrder, IndexerOrderId,
    IndexerPerpetualPosition, IndexerSubaccountId,
};
use num_bigint::BigInt;
use prost::Message;

pub const OWNERS: [&str; 4] = [
    "dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc565lnf",
    "dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc575lnf",
    "dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc585lnf",
    "dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc595lnf",
];

/// Deterministic pseudo-random numbers (64-bit LCG), so every run builds the same chain.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Lcg(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Builds blocks one after the other, tracking positions so subaccount updates are consistent.
pub struct Chain {
    rng: Lcg,
    height: u32,
    price: u64,
    positions: [i64; 4],
    next_client_id: u32,
    max_fills: u64,
}

struct TxBuilder {
    events: Vec<IndexerTendermintEvent>,
    tx_hashes: Vec<String>,
}

impl TxBuilder {
    fn new() -> Self {
        TxBuilder {
            events: Vec::new(),
            tx_hashes: Vec::new(),
        }
    }

    /// Starts a new transaction; events added next belong to it.
    fn tx(&mut self) {
        self.tx_hashes
            .push(format!("{:064X}", self.tx_hashes.len() + 1));
    }

    fn add(&mut self, subtype: &str, version: u32, payload: impl Message) {
        let tx = (self.tx_hashes.len() - 1) as u32;
        let index = self
            .events
            .iter()
            .filter(|e| e.ordering_within_block == Some(OrderingWithinBlock::TransactionIndex(tx)))
            .count() as u32;
        self.events.push(IndexerTendermintEvent {
            subtype: subtype.into(),
            ordering_within_block: Some(OrderingWithinBlock::TransactionIndex(tx)),
            event_index: index,
            version,
            data_bytes: payload.encode_to_vec(),
        });
    }

    fn end_block(&mut self, subtype: &str, payload: impl Message) {
        let index = self
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e.ordering_within_block,
                    Some(OrderingWithinBlock::BlockEvent(_))
                )
            })
            .count() as u32;
        self.events.push(IndexerTendermintEvent {
            subtype: subtype.into(),
            ordering_within_block: Some(OrderingWithinBlock::BlockEvent(
                BlockEvent::EndBlock as i32,
            )),
            event_index: index,
            version: 1,
            data_bytes: payload.encode_to_vec(),
        });
    }

    fn build(self, height: u32) -> IndexerTendermintBlock {
        IndexerTendermintBlock {
            height,
            time: Some(prost_types::Timestamp {
                seconds: 1_704_067_200 + i64::from(height) * 2,
                nanos: 500_000_000,
            }),
            events: self.events,
            tx_hashes: self.tx_hashes,
        }
    }
}

fn si(value: i64) -> Vec<u8> {
    serializable_int::encode(&BigInt::from(value))
}

fn sub(i: usize) -> IndexerSubaccountId {
    IndexerSubaccountId {
        owner: OWNERS[i].into(),
        number: 0,
    }
}

impl Chain {
    pub fn new(seed: u64) -> Self {
        Chain {
            rng: Lcg::new(seed),
            height: 0,
            price: 5_000_000_000,
            positions: [0; 4],
            next_client_id: 1,
            max_fills: 3,
        }
    }

    /// Up to `n` fills per block (default 3).
    pub fn with_max_fills(mut self, n: u64) -> Self {
        self.max_fills = n;
        self
    }

    /// The next block, encoded as on `to-ender`.
    pub fn next_block(&mut self) -> Vec<u8> {
        let block = if self.height == 0 {
            self.genesis()
        } else {
            self.regular()
        };
        self.height += 1;
        block.encode_to_vec()
    }

    fn genesis(&mut self) -> IndexerTendermintBlock {
        use ev::market_event_v1::Event;
        let mut b = TxBuilder::new();
        b.tx();
        b.add(
            "market",
            1,
            ev::MarketEventV1 {
                market_id: 0,
                event: Some(Event::MarketCreate(ev::MarketCreateEventV1 {
                    base: Some(ev::MarketBaseEventV1 {
                        pair: "BTC-USD".into(),
                        min_price_change_ppm: 50,
                    }),
                    exponent: -5,
                })),
            },
        );
        b.add(
            "market",
            1,
            ev::MarketEventV1 {
                market_id: 0,
                event: Some(Event::PriceUpdate(ev::MarketPriceUpdateEventV1 {
                    price_with_exponent: self.price,
                })),
            },
        );
        b.add(
            "asset",
            1,
            ev::AssetCreateEventV1 {
                id: 0,
                symbol: "USDC".into(),
                has_market: false,
                market_id: 0,
                atomic_resolution: -6,
            },
        );
        b.add(
            "liquidity_tier",
            2,
            ev::LiquidityTierUpsertEventV2 {
                id: 0,
                name: "Large-Cap".into(),
                initial_margin_ppm: 50_000,
                maintenance_fraction_ppm: 600_000,
                ..Default::default()
            },
        );
        b.add(
            "perpetual_market",
            3,
            ev::PerpetualMarketCreateEventV3 {
                id: 0,
                clob_pair_id: 0,
                ticker: "BTC-USD".into(),
                market_id: 0,
                status: 1,
                quantum_conversion_exponent: -9,
                atomic_resolution: -10,
                subticks_per_tick: 100_000,
                step_base_quantums: 1_000_000,
                liquidity_tier: 0,
                market_type: 1,
                default_funding8hr_ppm: 100,
            },
        );
        for i in 0..OWNERS.len() {
            b.add(
                "subaccount_update",
                1,
                ev::SubaccountUpdateEventV1 {
                    subaccount_id: Some(sub(i)),
                    updated_perpetual_positions: vec![],
                    updated_asset_positions: vec![IndexerAssetPosition {
                        asset_id: 0,
                        quantums: si(1_000_000_000_000),
                        index: 0,
                    }],
                },
            );
        }
        b.build(0)
    }

    fn order(
        &mut self,
        owner: usize,
        side: i32,
        quantums: u64,
        subticks: u64,
        tif: i32,
    ) -> IndexerOrder {
        self.next_client_id += 1;
        IndexerOrder {
            order_id: Some(IndexerOrderId {
                subaccount_id: Some(sub(owner)),
                client_id: self.next_client_id,
                order_flags: 0,
                clob_pair_id: 0,
            }),
            side,
            quantums,
            subticks,
            time_in_force: tif,
            good_til_oneof: Some(GoodTilOneof::GoodTilBlock(self.height + 20)),
            ..Default::default()
        }
    }

    fn regular(&mut self) -> IndexerTendermintBlock {
        use ev::market_event_v1::Event;
        let mut b = TxBuilder::new();
        // Price: a random walk in whole ticks.
        let step = self.rng.below(5) as i64 - 2;
        self.price = (self.price as i64 + step * 100_000_000).max(1_000_000_000) as u64;
        b.tx();
        b.add(
            "market",
            1,
            ev::MarketEventV1 {
                market_id: 0,
                event: Some(Event::PriceUpdate(ev::MarketPriceUpdateEventV1 {
                    price_with_exponent: self.price,
                })),
            },
        );
        for _ in 0..self.rng.below(self.max_fills + 1) {
            self.fill(&mut b);
        }
        if self.rng.below(10) == 0 {
            let from = self.rng.below(4) as usize;
            let to = (from + 1) % 4;
            b.tx();
            b.add(
                "transfer",
                1,
                ev::TransferEventV1 {
                    asset_id: 0,
                    amount: 1_000_000 * (1 + self.rng.below(100)),
                    sender: Some(ev::SourceOfFunds {
                        source: Some(ev::source_of_funds::Source::SubaccountId(sub(from))),
                    }),
                    recipient: Some(ev::SourceOfFunds {
                        source: Some(ev::source_of_funds::Source::SubaccountId(sub(to))),
                    }),
                    ..Default::default()
                },
            );
        }
        b.end_block(
            "funding_values",
            ev::FundingEventV1 {
                updates: vec![ev::FundingUpdateV1 {
                    perpetual_id: 0,
                    funding_value_ppm: self.rng.below(20) as i32 - 10,
                    funding_index: vec![],
                }],
                r#type: 1,
            },
        );
        if self.height.is_multiple_of(60) {
            b.end_block(
                "funding_values",
                ev::FundingEventV1 {
                    updates: vec![ev::FundingUpdateV1 {
                        perpetual_id: 0,
                        funding_value_ppm: 100,
                        funding_index: si(i64::from(self.height) * 1_000),
                    }],
                    r#type: 2,
                },
            );
        }
        b.build(self.height)
    }

    /// A match: the two subaccount updates, then the fill (maker price = oracle price).
    fn fill(&mut self, b: &mut TxBuilder) {
        let maker = self.rng.below(4) as usize;
        let taker = (maker + 1 + self.rng.below(3) as usize) % 4;
        let quantums = 1_000_000 * (1 + self.rng.below(500));
        let taker_buys = self.rng.below(2) == 0;
        let signed = quantums as i64;
        let (taker_side, maker_side) = if taker_buys { (1, 2) } else { (2, 1) };
        self.positions[taker] += if taker_buys { signed } else { -signed };
        self.positions[maker] += if taker_buys { -signed } else { signed };
        let subticks = self.price;
        let maker_order = self.order(maker, maker_side, quantums, subticks, 0);
        let taker_order = self.order(taker, taker_side, quantums, subticks, 1);
        b.tx();
        for i in [taker, maker] {
            b.add(
                "subaccount_update",
                1,
                ev::SubaccountUpdateEventV1 {
                    subaccount_id: Some(sub(i)),
                    updated_perpetual_positions: vec![IndexerPerpetualPosition {
                        perpetual_id: 0,
                        quantums: si(self.positions[i]),
                        funding_index: vec![],
                        funding_payment: if self.rng.below(5) == 0 {
                            si(self.rng.below(1_000_000) as i64 - 500_000)
                        } else {
                            vec![]
                        },
                    }],
                    updated_asset_positions: vec![],
                },
            );
        }
        b.add(
            "order_fill",
            1,
            ev::OrderFillEventV1 {
                maker_order: Some(maker_order),
                taker_order: Some(ev::order_fill_event_v1::TakerOrder::Order(taker_order)),
                fill_amount: quantums,
                maker_fee: -(quantums as i64) / 10_000,
                taker_fee: (quantums as i64) / 2_000,
                total_filled_maker: quantums,
                total_filled_taker: quantums,
                ..Default::default()
            },
        );
    }
}
