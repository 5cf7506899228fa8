//! The simulated chain: a seeded, deterministic generator of the blocks a dYdX full node
//! publishes on `to-ender` (spec ingest.md §2–3, event meanings §4.7).
//!
//! Block 0 is genesis-like: markets with their first oracle prices, the USDC asset, a liquidity
//! tier, one perpetual market (and clob pair) per market, and funded subaccounts. Every later
//! block carries an oracle random walk for each market, matched fills (each preceded in its
//! transaction by the two subaccount updates carrying the new position sizes, as the protocol
//! emits them), occasional transfers, a premium sample per market in end-block, and a funding
//! tick every `funding_interval_blocks` blocks.

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

/// USDC quantums are 10^-6 dollars (the protocol's quote atomic resolution).
const QUOTE_ATOMIC_RESOLUTION: i32 = -6;
/// USDC each account starts with, in quantums ($1,000,000).
const INITIAL_USDC_QUANTUMS: i64 = 1_000_000_000_000;
/// Short-term orders stay valid this many blocks past the block that placed them.
const GOOD_TIL_BLOCKS: u32 = 20;
const SIDE_BUY: i32 = 1;
const SIDE_SELL: i32 = 2;
const TIF_UNSPECIFIED: i32 = 0;
const TIF_IOC: i32 = 1;
const FUNDING_TYPE_PREMIUM_SAMPLE: i32 = 1;
const FUNDING_TYPE_FUNDING_RATE_AND_INDEX: i32 = 2;

/// Deterministic pseudo-random numbers (64-bit LCG), so every run builds the same chain.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Lcg(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// One market of the simulated chain: its oracle market, perpetual and clob pair share an id.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketSpec {
    pub ticker: String,
    /// First oracle price, as `price_with_exponent` (human price = value × 10^exponent).
    pub initial_price: u64,
    pub exponent: i32,
    /// One random-walk step of the oracle price, in `price_with_exponent` units.
    pub price_step: u64,
    /// The oracle price never walks below this.
    pub min_price: u64,
    pub atomic_resolution: i32,
    pub quantum_conversion_exponent: i32,
    pub subticks_per_tick: u32,
    pub step_base_quantums: u64,
    pub min_price_change_ppm: u32,
}

impl MarketSpec {
    pub fn btc_usd() -> Self {
        MarketSpec {
            ticker: "BTC-USD".into(),
            initial_price: 5_000_000_000,
            exponent: -5,
            price_step: 100_000_000,
            min_price: 1_000_000_000,
            atomic_resolution: -10,
            quantum_conversion_exponent: -9,
            subticks_per_tick: 100_000,
            step_base_quantums: 1_000_000,
            min_price_change_ppm: 50,
        }
    }

    pub fn eth_usd() -> Self {
        MarketSpec {
            ticker: "ETH-USD".into(),
            initial_price: 3_000_000_000,
            exponent: -6,
            price_step: 10_000_000,
            min_price: 500_000_000,
            atomic_resolution: -9,
            quantum_conversion_exponent: -9,
            subticks_per_tick: 100_000,
            step_base_quantums: 1_000_000,
            min_price_change_ppm: 50,
        }
    }

    pub fn sol_usd() -> Self {
        MarketSpec {
            ticker: "SOL-USD".into(),
            initial_price: 15_000_000_000,
            exponent: -8,
            price_step: 10_000_000,
            min_price: 1_000_000_000,
            atomic_resolution: -7,
            quantum_conversion_exponent: -9,
            subticks_per_tick: 1_000_000,
            step_base_quantums: 1_000_000,
            min_price_change_ppm: 100,
        }
    }

    /// The order price, in subticks, equal to an oracle price
    /// (human price = subticks × 10^(qce + quote resolution − atomic resolution), ingest.md
    /// §3.10, so subticks = price × 10^(exponent − qce − quote resolution + atomic resolution)).
    pub fn subticks_at(&self, price_with_exponent: u64) -> u64 {
        let shift = self.exponent - self.quantum_conversion_exponent - QUOTE_ATOMIC_RESOLUTION
            + self.atomic_resolution;
        let scale = 10u64.pow(shift.unsigned_abs());
        if shift >= 0 {
            price_with_exponent * scale
        } else {
            price_with_exponent / scale
        }
    }
}

/// What the simulated chain looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainConfig {
    pub seed: u64,
    pub markets: Vec<MarketSpec>,
    /// Funded subaccounts trading against each other (at least 2).
    pub accounts: usize,
    /// Each block carries between 0 and this many fills.
    pub max_fills_per_block: u64,
    /// A funding tick (rate and index) every this many blocks.
    pub funding_interval_blocks: u32,
    pub block_interval_secs: i64,
    /// Block time of block 0, in Unix seconds.
    pub genesis_time_secs: i64,
}

impl Default for ChainConfig {
    /// One market (BTC-USD), four accounts, up to 3 fills a block, 2-second blocks and a funding
    /// tick every 60 blocks, so short test runs see several ticks.
    fn default() -> Self {
        ChainConfig {
            seed: 7,
            markets: vec![MarketSpec::btc_usd()],
            accounts: 4,
            max_fills_per_block: 3,
            funding_interval_blocks: 60,
            block_interval_secs: 2,
            genesis_time_secs: 1_704_067_200,
        }
    }
}

impl ChainConfig {
    /// BTC-USD, ETH-USD and SOL-USD.
    pub fn three_markets(seed: u64) -> Self {
        ChainConfig {
            seed,
            markets: vec![
                MarketSpec::btc_usd(),
                MarketSpec::eth_usd(),
                MarketSpec::sol_usd(),
            ],
            ..ChainConfig::default()
        }
    }
}

/// The address of the `index`-th simulated account.
pub fn owner_address(index: usize) -> String {
    format!(
        "dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc{}lnf",
        565 + 10 * index
    )
}

/// The deterministic chain: the same config always yields the same blocks.
pub struct SimulatedChain {
    config: ChainConfig,
    rng: Lcg,
    height: u32,
    prices: Vec<u64>,
    /// Perpetual position size, in base quantums, of each account in each market.
    positions: Vec<Vec<i64>>,
    next_client_id: u32,
}

impl SimulatedChain {
    /// # Panics
    /// If the config has no market or fewer than two accounts (nobody to trade with).
    pub fn new(config: ChainConfig) -> Self {
        assert!(!config.markets.is_empty(), "the chain needs a market");
        assert!(config.accounts >= 2, "fills need two accounts");
        SimulatedChain {
            rng: Lcg::new(config.seed),
            height: 0,
            prices: config.markets.iter().map(|m| m.initial_price).collect(),
            positions: vec![vec![0; config.markets.len()]; config.accounts],
            next_client_id: 1,
            config,
        }
    }

    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// Height of the block `next_block` returns next.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Current oracle price of each market, as `price_with_exponent`.
    pub fn prices(&self) -> &[u64] {
        &self.prices
    }

    /// Current position size of `account` in `market`, in base quantums.
    pub fn position(&self, account: usize, market: usize) -> i64 {
        self.positions[account][market]
    }

    pub fn next_block(&mut self) -> IndexerTendermintBlock {
        let block = if self.height == 0 {
            self.genesis()
        } else {
            self.regular()
        };
        self.height += 1;
        block
    }

    /// The next block, encoded as on `to-ender`.
    pub fn next_block_bytes(&mut self) -> Vec<u8> {
        self.next_block().encode_to_vec()
    }

    fn subaccount(&self, account: usize) -> IndexerSubaccountId {
        IndexerSubaccountId {
            owner: owner_address(account),
            number: 0,
        }
    }

    fn block_time(&self) -> prost_types::Timestamp {
        prost_types::Timestamp {
            seconds: self.config.genesis_time_secs
                + i64::from(self.height) * self.config.block_interval_secs,
            nanos: 500_000_000,
        }
    }

    fn genesis(&mut self) -> IndexerTendermintBlock {
        use ev::market_event_v1::Event;
        let mut b = TxBuilder::new();
        b.tx();
        for (id, market) in self.config.markets.iter().enumerate() {
            let market_id = id as u32;
            b.add(
                "market",
                1,
                ev::MarketEventV1 {
                    market_id,
                    event: Some(Event::MarketCreate(ev::MarketCreateEventV1 {
                        base: Some(ev::MarketBaseEventV1 {
                            pair: market.ticker.clone(),
                            min_price_change_ppm: market.min_price_change_ppm,
                        }),
                        exponent: market.exponent,
                    })),
                },
            );
            b.add("market", 1, price_update(market_id, self.prices[id]));
        }
        b.add(
            "asset",
            1,
            ev::AssetCreateEventV1 {
                id: 0,
                symbol: "USDC".into(),
                has_market: false,
                market_id: 0,
                atomic_resolution: QUOTE_ATOMIC_RESOLUTION,
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
        for (id, market) in self.config.markets.iter().enumerate() {
            b.add(
                "perpetual_market",
                3,
                ev::PerpetualMarketCreateEventV3 {
                    id: id as u32,
                    clob_pair_id: id as u32,
                    ticker: market.ticker.clone(),
                    market_id: id as u32,
                    status: 1,
                    quantum_conversion_exponent: market.quantum_conversion_exponent,
                    atomic_resolution: market.atomic_resolution,
                    subticks_per_tick: market.subticks_per_tick,
                    step_base_quantums: market.step_base_quantums,
                    liquidity_tier: 0,
                    market_type: 1,
                    default_funding8hr_ppm: 100,
                },
            );
        }
        for account in 0..self.config.accounts {
            b.add(
                "subaccount_update",
                1,
                ev::SubaccountUpdateEventV1 {
                    subaccount_id: Some(self.subaccount(account)),
                    updated_perpetual_positions: vec![],
                    updated_asset_positions: vec![IndexerAssetPosition {
                        asset_id: 0,
                        quantums: si(INITIAL_USDC_QUANTUMS),
                        index: 0,
                    }],
                },
            );
        }
        b.build(self.height, self.block_time())
    }

    fn regular(&mut self) -> IndexerTendermintBlock {
        let mut b = TxBuilder::new();
        b.tx();
        for id in 0..self.config.markets.len() {
            self.walk_price(id);
            b.add("market", 1, price_update(id as u32, self.prices[id]));
        }
        for _ in 0..self.rng.below(self.config.max_fills_per_block + 1) {
            self.fill(&mut b);
        }
        if self.rng.below(10) == 0 {
            self.transfer(&mut b);
        }
        let samples = (0..self.config.markets.len())
            .map(|id| ev::FundingUpdateV1 {
                perpetual_id: id as u32,
                funding_value_ppm: self.rng.below(20) as i32 - 10,
                funding_index: vec![],
            })
            .collect();
        b.end_block(
            "funding_values",
            ev::FundingEventV1 {
                updates: samples,
                r#type: FUNDING_TYPE_PREMIUM_SAMPLE,
            },
        );
        if self
            .height
            .is_multiple_of(self.config.funding_interval_blocks)
        {
            let ticks = (0..self.config.markets.len())
                .map(|id| ev::FundingUpdateV1 {
                    perpetual_id: id as u32,
                    funding_value_ppm: 100,
                    funding_index: si(i64::from(self.height) * 1_000),
                })
                .collect();
            b.end_block(
                "funding_values",
                ev::FundingEventV1 {
                    updates: ticks,
                    r#type: FUNDING_TYPE_FUNDING_RATE_AND_INDEX,
                },
            );
        }
        b.build(self.height, self.block_time())
    }

    /// Oracle random walk: -2..=2 steps a block, floored at the market's minimum.
    fn walk_price(&mut self, id: usize) {
        let market = &self.config.markets[id];
        let steps = self.rng.below(5) as i64 - 2;
        let moved = self.prices[id] as i64 + steps * market.price_step as i64;
        self.prices[id] = moved.max(market.min_price as i64) as u64;
    }

    fn order(
        &mut self,
        account: usize,
        market: usize,
        side: i32,
        quantums: u64,
        tif: i32,
    ) -> IndexerOrder {
        self.next_client_id += 1;
        IndexerOrder {
            order_id: Some(IndexerOrderId {
                subaccount_id: Some(self.subaccount(account)),
                client_id: self.next_client_id,
                order_flags: 0,
                clob_pair_id: market as u32,
            }),
            side,
            quantums,
            subticks: self.config.markets[market].subticks_at(self.prices[market]),
            time_in_force: tif,
            good_til_oneof: Some(GoodTilOneof::GoodTilBlock(self.height + GOOD_TIL_BLOCKS)),
            ..Default::default()
        }
    }

    /// A match at the oracle price: the two subaccount updates, then the fill.
    fn fill(&mut self, b: &mut TxBuilder) {
        let markets = self.config.markets.len();
        let market = if markets > 1 {
            self.rng.below(markets as u64) as usize
        } else {
            0
        };
        let accounts = self.config.accounts as u64;
        let maker = self.rng.below(accounts) as usize;
        let taker = (maker + 1 + self.rng.below(accounts - 1) as usize) % accounts as usize;
        let step = self.config.markets[market].step_base_quantums;
        let quantums = step * (1 + self.rng.below(500));
        let taker_buys = self.rng.below(2) == 0;
        let signed = quantums as i64;
        let (taker_side, maker_side) = if taker_buys {
            (SIDE_BUY, SIDE_SELL)
        } else {
            (SIDE_SELL, SIDE_BUY)
        };
        self.positions[taker][market] += if taker_buys { signed } else { -signed };
        self.positions[maker][market] += if taker_buys { -signed } else { signed };
        let maker_order = self.order(maker, market, maker_side, quantums, TIF_UNSPECIFIED);
        let taker_order = self.order(taker, market, taker_side, quantums, TIF_IOC);
        b.tx();
        for account in [taker, maker] {
            let funding_payment = if self.rng.below(5) == 0 {
                si(self.rng.below(1_000_000) as i64 - 500_000)
            } else {
                vec![]
            };
            b.add(
                "subaccount_update",
                1,
                ev::SubaccountUpdateEventV1 {
                    subaccount_id: Some(self.subaccount(account)),
                    updated_perpetual_positions: vec![IndexerPerpetualPosition {
                        perpetual_id: market as u32,
                        quantums: si(self.positions[account][market]),
                        funding_index: vec![],
                        funding_payment,
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
                maker_fee: -signed / 10_000,
                taker_fee: signed / 2_000,
                total_filled_maker: quantums,
                total_filled_taker: quantums,
                ..Default::default()
            },
        );
    }

    /// USDC from one account's subaccount to the next one's.
    fn transfer(&mut self, b: &mut TxBuilder) {
        let from = self.rng.below(self.config.accounts as u64) as usize;
        let to = (from + 1) % self.config.accounts;
        b.tx();
        b.add(
            "transfer",
            1,
            ev::TransferEventV1 {
                asset_id: 0,
                amount: 1_000_000 * (1 + self.rng.below(100)),
                sender: Some(ev::SourceOfFunds {
                    source: Some(ev::source_of_funds::Source::SubaccountId(
                        self.subaccount(from),
                    )),
                }),
                recipient: Some(ev::SourceOfFunds {
                    source: Some(ev::source_of_funds::Source::SubaccountId(
                        self.subaccount(to),
                    )),
                }),
                ..Default::default()
            },
        );
    }
}

fn si(value: i64) -> Vec<u8> {
    serializable_int::encode(&BigInt::from(value))
}

fn price_update(market_id: u32, price: u64) -> ev::MarketEventV1 {
    ev::MarketEventV1 {
        market_id,
        event: Some(ev::market_event_v1::Event::PriceUpdate(
            ev::MarketPriceUpdateEventV1 {
                price_with_exponent: price,
            },
        )),
    }
}

/// Collects a block's events with their ordering (transaction index or end-block) and indexes.
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

    fn next_index(&self, ordering: &OrderingWithinBlock) -> u32 {
        self.events
            .iter()
            .filter(|e| e.ordering_within_block.as_ref() == Some(ordering))
            .count() as u32
    }

    fn add(&mut self, subtype: &str, version: u32, payload: impl Message) {
        let ordering = OrderingWithinBlock::TransactionIndex((self.tx_hashes.len() - 1) as u32);
        self.push(ordering, subtype, version, payload);
    }

    fn end_block(&mut self, subtype: &str, payload: impl Message) {
        let ordering = OrderingWithinBlock::BlockEvent(BlockEvent::EndBlock as i32);
        self.push(ordering, subtype, 1, payload);
    }

    fn push(
        &mut self,
        ordering: OrderingWithinBlock,
        subtype: &str,
        version: u32,
        payload: impl Message,
    ) {
        let event_index = self.next_index(&ordering);
        self.events.push(IndexerTendermintEvent {
            subtype: subtype.into(),
            ordering_within_block: Some(ordering),
            event_index,
            version,
            data_bytes: payload.encode_to_vec(),
        });
    }

    fn build(self, height: u32, time: prost_types::Timestamp) -> IndexerTendermintBlock {
        IndexerTendermintBlock {
            height,
            time: Some(time),
            events: self.events,
            tx_hashes: self.tx_hashes,
        }
    }
}
