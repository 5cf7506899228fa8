//! The simulated chain: a seeded, deterministic generator of what a dYdX full node publishes —
//! the blocks on `to-ender` and the off-chain order-book updates on `to-vulcan` (ingest.md §2–3,
//! §5.2; event meanings §4.7).
//!
//! * Block 0 is genesis-like: markets with their first oracle prices, the USDC asset, liquidity
//!   tiers, and a perpetual market (with its clob pair) per market.
//! * Block 1 funds every account: a deposit from its wallet to its subaccount 0.
//! * Every block: an oracle random walk per market; short-term orders placed into each market's
//!   price-time order book ([`crate::book`]), which match at the maker's price into `order_fill`
//!   events, each preceded in its transaction by the taker's and the maker's
//!   `subaccount_update` with the balances the trade, its fees and any funding settled leave
//!   ([`crate::ledger`]); long-term (stateful) orders placed, canceled and expired on chain;
//!   short-term cancels and expiries off chain; occasional transfers, deposits, withdrawals,
//!   liquidations and deleveraging; a premium sample per market in END_BLOCK and, every
//!   `funding_interval_blocks`, a funding tick with the new funding indexes.
//!
//! The off-chain updates of a block come first ([`BlockOutput::off_chain`]): a node sends them
//! as orders arrive (CheckTx), before the block that contains their fills is committed.
//!
//! Liquidations and deleveraging are traffic, not a risk engine: the chain picks accounts with a
//! position at random rather than by margin.

use indexer_domain::order_id::order_id_key;
use indexer_domain::vault::module_address;
use indexer_proto::events as ev;
use indexer_proto::indexer_manager::IndexerTendermintBlock;
use indexer_proto::off_chain_updates::{
    off_chain_update_v1::UpdateMessage, order_place_v1::OrderPlacementStatus,
    order_remove_v1::OrderRemovalStatus, OffChainUpdateV1, OrderPlaceV1, OrderRemoveV1,
    OrderUpdateV1,
};
use indexer_proto::protocol::v1::{
    indexer_order::GoodTilOneof, IndexerOrder, IndexerOrderId, IndexerSubaccountId,
};
use indexer_proto::shared::OrderRemovalReason;
use prost::Message;

use crate::block::{BlockBuilder, EMPTY_TX_HASH};
use crate::book::{expired_at, opposite, OrderBook, RestingOrder, Taken, SIDE_BUY, SIDE_SELL};
use crate::ledger::{si, Change, Ledger, USDC_ASSET_ID};

/// USDC quantums are 10^-6 dollars (the protocol's quote atomic resolution).
const QUOTE_ATOMIC_RESOLUTION: i32 = -6;
/// USDC each account deposits in block 1, in quantums ($1,000,000).
pub const INITIAL_USDC_QUANTUMS: i64 = 1_000_000_000_000;
/// Short-term orders stay valid up to this many blocks past the block that placed them.
const GOOD_TIL_BLOCKS: u64 = 20;
/// Long-term orders stay valid between 1 and 10 minutes of block time.
const LONG_TERM_SECONDS: (u64, u64) = (60, 600);
const FLAGS_SHORT_TERM: u32 = 0;
const FLAGS_LONG_TERM: u32 = 64;
const TIF_UNSPECIFIED: i32 = 0;
const TIF_IOC: i32 = 1;
/// Taker fee 5 bps, maker rebate 1.1 bps, liquidation fee 50 bps of the quote amount.
const TAKER_FEE_PPM: i64 = 500;
const MAKER_FEE_PPM: i64 = -110;
const LIQUIDATION_FEE_PPM: i64 = 5_000;
const DEFAULT_FUNDING_8H_PPM: i32 = 100;
const FUNDING_TYPE_PREMIUM_SAMPLE: i32 = 1;
const FUNDING_TYPE_FUNDING_RATE_AND_INDEX: i32 = 2;
const CLOB_PAIR_STATUS_ACTIVE: i32 = 1;
const MARKET_TYPE_CROSS: i32 = 1;

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

    /// True once in `n` draws on average (never for 0).
    pub fn one_in(&mut self, n: u64) -> bool {
        n != 0 && self.below(n) == 0
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
    /// Index into [`LIQUIDITY_TIERS`].
    pub liquidity_tier: u32,
}

/// (name, initial margin ppm, maintenance fraction ppm, open interest lower / upper cap in
/// quote quantums) of the liquidity tiers genesis creates.
pub const LIQUIDITY_TIERS: [(&str, u32, u32, u64, u64); 3] = [
    ("Large-Cap", 20_000, 600_000, 0, 0),
    (
        "Mid-Cap",
        50_000,
        600_000,
        25_000_000_000_000,
        50_000_000_000_000,
    ),
    (
        "Long-Tail",
        100_000,
        600_000,
        5_000_000_000_000,
        10_000_000_000_000,
    ),
];

impl MarketSpec {
    /// BTC at $50,000 moving by $10 steps; mainnet's resolutions (tick $1, step 0.0001 BTC).
    pub fn btc_usd() -> Self {
        MarketSpec {
            ticker: "BTC-USD".into(),
            initial_price: 5_000_000_000,
            exponent: -5,
            price_step: 1_000_000,
            min_price: 1_000_000_000,
            atomic_resolution: -10,
            quantum_conversion_exponent: -9,
            subticks_per_tick: 100_000,
            step_base_quantums: 1_000_000,
            min_price_change_ppm: 50,
            liquidity_tier: 0,
        }
    }

    /// ETH at $3,000 moving by $0.50 (tick $0.1, step 0.001 ETH).
    pub fn eth_usd() -> Self {
        MarketSpec {
            ticker: "ETH-USD".into(),
            initial_price: 3_000_000_000,
            exponent: -6,
            price_step: 500_000,
            min_price: 500_000_000,
            atomic_resolution: -9,
            quantum_conversion_exponent: -9,
            subticks_per_tick: 100_000,
            step_base_quantums: 1_000_000,
            min_price_change_ppm: 50,
            liquidity_tier: 0,
        }
    }

    /// SOL at $150 moving by $0.02 (tick $0.01, step 0.1 SOL).
    pub fn sol_usd() -> Self {
        MarketSpec {
            ticker: "SOL-USD".into(),
            initial_price: 15_000_000_000,
            exponent: -8,
            price_step: 2_000_000,
            min_price: 1_000_000_000,
            atomic_resolution: -7,
            quantum_conversion_exponent: -9,
            subticks_per_tick: 1_000_000,
            step_base_quantums: 1_000_000,
            min_price_change_ppm: 100,
            liquidity_tier: 1,
        }
    }

    /// AVAX at $35 moving by $0.01 (tick $0.01, step 0.1 AVAX).
    pub fn avax_usd() -> Self {
        MarketSpec {
            ticker: "AVAX-USD".into(),
            initial_price: 3_500_000_000,
            exponent: -8,
            price_step: 1_000_000,
            min_price: 500_000_000,
            atomic_resolution: -7,
            quantum_conversion_exponent: -9,
            subticks_per_tick: 1_000_000,
            step_base_quantums: 1_000_000,
            min_price_change_ppm: 100,
            liquidity_tier: 1,
        }
    }

    /// LINK at $15 moving by $0.002 (tick $0.001, step 1 LINK).
    pub fn link_usd() -> Self {
        MarketSpec {
            ticker: "LINK-USD".into(),
            initial_price: 15_000_000_000,
            exponent: -9,
            price_step: 2_000_000,
            min_price: 1_000_000_000,
            atomic_resolution: -6,
            quantum_conversion_exponent: -9,
            subticks_per_tick: 1_000_000,
            step_base_quantums: 1_000_000,
            min_price_change_ppm: 100,
            liquidity_tier: 2,
        }
    }

    /// DOGE at $0.15 moving by $0.00002 (tick $0.00001, step 10 DOGE).
    pub fn doge_usd() -> Self {
        MarketSpec {
            ticker: "DOGE-USD".into(),
            initial_price: 150_000_000,
            exponent: -9,
            price_step: 20_000,
            min_price: 10_000_000,
            atomic_resolution: -5,
            quantum_conversion_exponent: -9,
            subticks_per_tick: 100_000,
            step_base_quantums: 1_000_000,
            min_price_change_ppm: 200,
            liquidity_tier: 2,
        }
    }

    /// Every market the devnet knows, BTC-USD, ETH-USD and SOL-USD first.
    pub fn all() -> Vec<MarketSpec> {
        vec![
            Self::btc_usd(),
            Self::eth_usd(),
            Self::sol_usd(),
            Self::avax_usd(),
            Self::link_usd(),
            Self::doge_usd(),
        ]
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

    /// Quote quantums of `quantums` at `subticks`: quantums × subticks × 10^qce (§3.10).
    pub fn quote_quantums(&self, quantums: u64, subticks: u64) -> i64 {
        let product = i128::from(quantums) * i128::from(subticks);
        let scale = 10i128.pow(self.quantum_conversion_exponent.unsigned_abs());
        let quote = if self.quantum_conversion_exponent >= 0 {
            product * scale
        } else {
            product / scale
        };
        i64::try_from(quote).expect("quote amounts fit in i64")
    }

    /// How far from the oracle price (in ticks) orders are placed: a few random-walk steps.
    fn depth_ticks(&self) -> u64 {
        let step = self.subticks_at(self.price_step) / u64::from(self.subticks_per_tick);
        (3 * step).max(4)
    }

    /// Funding index change of one hourly tick at `rate_8h_ppm` and the oracle price: the
    /// 1-hour rate (rate / 8) × price, in the index's unit (§3.10: human index = index ×
    /// 10^(−12 − atomic resolution)).
    fn funding_index_delta(&self, rate_8h_ppm: i32, price_with_exponent: u64) -> i64 {
        let shift = 6 + self.atomic_resolution + self.exponent;
        let value = i128::from(rate_8h_ppm) * i128::from(price_with_exponent);
        let scale = 10i128.pow(shift.unsigned_abs());
        let scaled = if shift >= 0 {
            value * scale / 8
        } else {
            value / scale / 8
        };
        i64::try_from(scaled).expect("funding index deltas fit in i64")
    }
}

/// What the simulated chain looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainConfig {
    pub seed: u64,
    pub markets: Vec<MarketSpec>,
    /// Funded subaccounts trading against each other (at least 2).
    pub accounts: usize,
    /// Each block carries between 0 and this many taker orders; each fills against one or more
    /// resting orders (usually one or two fills).
    pub max_fills_per_block: u64,
    /// Resting orders placed each block, plus two per taker order to refill the books.
    pub maker_orders_per_block: u64,
    /// Share of resting orders that are long-term (stateful, placed on chain), in percent.
    pub stateful_order_percent: u64,
    /// On average one transfer, deposit or withdrawal every this many blocks (0: none).
    pub transfer_one_in_blocks: u64,
    /// On average one liquidation every this many blocks (0: none).
    pub liquidation_one_in_blocks: u64,
    /// On average one deleveraging every this many blocks (0: none).
    pub deleveraging_one_in_blocks: u64,
    /// A funding tick (rate and index) every this many blocks.
    pub funding_interval_blocks: u32,
    pub block_interval_secs: i64,
    /// Block time of block 0, in Unix seconds.
    pub genesis_time_secs: i64,
}

impl Default for ChainConfig {
    /// One market (BTC-USD), four accounts, up to 3 taker orders a block, 2-second blocks and a
    /// funding tick every 60 blocks, so short test runs see several ticks.
    fn default() -> Self {
        ChainConfig {
            seed: 7,
            markets: vec![MarketSpec::btc_usd()],
            accounts: 4,
            max_fills_per_block: 3,
            maker_orders_per_block: 4,
            stateful_order_percent: 10,
            transfer_one_in_blocks: 10,
            liquidation_one_in_blocks: 40,
            deleveraging_one_in_blocks: 150,
            funding_interval_blocks: 60,
            block_interval_secs: 2,
            genesis_time_secs: 1_704_067_200,
        }
    }
}

impl ChainConfig {
    /// BTC-USD, ETH-USD and SOL-USD.
    pub fn three_markets(seed: u64) -> Self {
        Self::with_markets(seed, 3)
    }

    /// The first `count` markets of [`MarketSpec::all`] (at least one, at most all six).
    pub fn with_markets(seed: u64, count: usize) -> Self {
        let mut markets = MarketSpec::all();
        markets.truncate(count.clamp(1, markets.len()));
        ChainConfig {
            seed,
            markets,
            ..ChainConfig::default()
        }
    }
}

/// The owner address of the `index`-th simulated account: a valid bech32 `dydx` address
/// (the first 20 bytes of SHA-256 of `devnet-account-<index>`, like a module account).
pub fn owner_address(index: usize) -> String {
    module_address(&format!("devnet-account-{index}"))
}

/// One `to-vulcan` message: the value and its Kafka key (SHA-256 of the order id, ingest.md
/// §2.1), which with the murmur2 partitioner decides the partition.
#[derive(Debug, Clone, PartialEq)]
pub struct OffChainMessage {
    pub key: [u8; 32],
    pub update: OffChainUpdateV1,
}

impl OffChainMessage {
    fn new(order_id: &IndexerOrderId, message: UpdateMessage) -> Self {
        OffChainMessage {
            key: order_id_key(order_id),
            update: OffChainUpdateV1 {
                update_message: Some(message),
            },
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        self.update.encode_to_vec()
    }
}

/// Everything the node publishes for one block: the off-chain updates sent while the block was
/// being built (first), then the block.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockOutput {
    pub off_chain: Vec<OffChainMessage>,
    pub block: IndexerTendermintBlock,
}

/// The deterministic chain: the same config always yields the same blocks and updates.
pub struct SimulatedChain {
    config: ChainConfig,
    rng: Lcg,
    height: u32,
    prices: Vec<u64>,
    addresses: Vec<String>,
    books: Vec<OrderBook>,
    ledger: Ledger,
    next_client_id: u32,
    /// Sum and count of the premium samples since the last funding tick, per market.
    premiums: Vec<(i64, i64)>,
    off_chain: Vec<OffChainMessage>,
}

impl SimulatedChain {
    /// # Panics
    /// If the config has no market or fewer than two accounts (nobody to trade with).
    pub fn new(config: ChainConfig) -> Self {
        assert!(!config.markets.is_empty(), "the chain needs a market");
        assert!(config.accounts >= 2, "fills need two accounts");
        let markets = config.markets.len();
        SimulatedChain {
            rng: Lcg::new(config.seed),
            height: 0,
            prices: config.markets.iter().map(|m| m.initial_price).collect(),
            addresses: (0..config.accounts).map(owner_address).collect(),
            books: vec![OrderBook::default(); markets],
            ledger: Ledger::new(config.accounts, markets),
            next_client_id: 0,
            premiums: vec![(0, 0); markets],
            off_chain: Vec::new(),
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
        self.ledger.position(account, market).size
    }

    /// Current USDC balance of `account`'s subaccount 0, in quote quantums.
    pub fn usdc(&self, account: usize) -> i64 {
        self.ledger.usdc(account)
    }

    /// Current funding index of `market`'s perpetual.
    pub fn funding_index(&self, market: usize) -> i64 {
        self.ledger.funding_index(market)
    }

    /// The order book of each market as the node holds it after the last block.
    pub fn books(&self) -> &[OrderBook] {
        &self.books
    }

    /// The next block and the off-chain updates that precede it.
    pub fn next_output(&mut self) -> BlockOutput {
        let block = if self.height == 0 {
            self.genesis()
        } else {
            self.regular()
        };
        self.height += 1;
        BlockOutput {
            off_chain: std::mem::take(&mut self.off_chain),
            block,
        }
    }

    /// The next block (its off-chain updates are generated and dropped).
    pub fn next_block(&mut self) -> IndexerTendermintBlock {
        self.next_output().block
    }

    /// The next block, encoded as on `to-ender`.
    pub fn next_block_bytes(&mut self) -> Vec<u8> {
        self.next_block().encode_to_vec()
    }

    fn subaccount(&self, account: usize) -> IndexerSubaccountId {
        IndexerSubaccountId {
            owner: self.addresses[account].clone(),
            number: 0,
        }
    }

    fn block_time_secs(&self) -> i64 {
        self.config.genesis_time_secs + i64::from(self.height) * self.config.block_interval_secs
    }

    fn block_time(&self) -> prost_types::Timestamp {
        prost_types::Timestamp {
            seconds: self.block_time_secs(),
            nanos: 500_000_000,
        }
    }

    fn genesis(&mut self) -> IndexerTendermintBlock {
        let mut b = BlockBuilder::new(self.config.seed, self.height);
        b.tx_with_hash(EMPTY_TX_HASH.into());
        for (id, market) in self.config.markets.iter().enumerate() {
            b.add("market", 1, &market_create(id as u32, market));
            b.add("market", 1, &price_update(id as u32, self.prices[id]));
        }
        b.add(
            "asset",
            1,
            &ev::AssetCreateEventV1 {
                id: USDC_ASSET_ID,
                symbol: "USDC".into(),
                has_market: false,
                market_id: 0,
                atomic_resolution: QUOTE_ATOMIC_RESOLUTION,
            },
        );
        for (id, (name, initial, maintenance, lower, upper)) in LIQUIDITY_TIERS.iter().enumerate() {
            b.add(
                "liquidity_tier",
                2,
                &ev::LiquidityTierUpsertEventV2 {
                    id: id as u32,
                    name: (*name).into(),
                    initial_margin_ppm: *initial,
                    maintenance_fraction_ppm: *maintenance,
                    base_position_notional: 0,
                    open_interest_lower_cap: *lower,
                    open_interest_upper_cap: *upper,
                },
            );
        }
        for (id, market) in self.config.markets.iter().enumerate() {
            b.add(
                "perpetual_market",
                3,
                &perpetual_market_create(id as u32, market),
            );
        }
        b.build(self.block_time())
    }

    fn regular(&mut self) -> IndexerTendermintBlock {
        let mut b = BlockBuilder::new(self.config.seed, self.height);
        self.expire_short_term_orders();
        b.tx();
        for id in 0..self.config.markets.len() {
            self.walk_price(id);
            b.add("market", 1, &price_update(id as u32, self.prices[id]));
        }
        if self.height == 1 {
            self.fund_accounts(&mut b);
        }
        self.order_flow(&mut b);
        if self.rng.one_in(self.config.liquidation_one_in_blocks) {
            self.liquidate(&mut b);
        }
        if self.rng.one_in(self.config.deleveraging_one_in_blocks) {
            self.deleverage(&mut b);
        }
        if self.rng.one_in(self.config.transfer_one_in_blocks) {
            self.transfer(&mut b);
        }
        self.expire_stateful_orders(&mut b);
        self.funding(&mut b);
        b.build(self.block_time())
    }

    /// Oracle random walk: -2..=2 steps a block, floored at the market's minimum.
    fn walk_price(&mut self, id: usize) {
        let market = &self.config.markets[id];
        let steps = self.rng.below(5) as i64 - 2;
        let moved = self.prices[id] as i64 + steps * market.price_step as i64;
        self.prices[id] = moved.max(market.min_price as i64) as u64;
    }

    /// Block 1: every account deposits from its wallet into its subaccount 0.
    fn fund_accounts(&mut self, b: &mut BlockBuilder) {
        for account in 0..self.config.accounts {
            self.deposit(b, account, INITIAL_USDC_QUANTUMS as u64);
        }
    }

    /// Resting orders and taker orders in random interleaving, then a few cancels.
    fn order_flow(&mut self, b: &mut BlockBuilder) {
        let mut takers = self.rng.below(self.config.max_fills_per_block + 1);
        let mut makers = self.config.maker_orders_per_block + 2 * takers;
        while makers + takers > 0 {
            if self.rng.below(makers + takers) < makers {
                makers -= 1;
                self.place_resting_order(b);
            } else {
                takers -= 1;
                self.place_taker_order(b);
            }
        }
        for _ in 0..self.rng.below(2 + self.config.maker_orders_per_block / 2) {
            self.cancel_random_order(b);
        }
    }

    fn random_market(&mut self) -> usize {
        self.rng.below(self.config.markets.len() as u64) as usize
    }

    fn random_account(&mut self) -> usize {
        self.rng.below(self.config.accounts as u64) as usize
    }

    /// The oracle price rounded down to a tick, in subticks.
    fn mid_subticks(&self, market: usize) -> u64 {
        let spec = &self.config.markets[market];
        let tick = u64::from(spec.subticks_per_tick);
        (spec.subticks_at(self.prices[market]) / tick).max(1) * tick
    }

    /// A price `1..=depth` ticks from the oracle: below it for buys, above for sells, or the
    /// other way round when `aggressive` (a price that reaches into the other side's orders).
    fn price_near_oracle(&mut self, market: usize, side: i32, aggressive: bool) -> u64 {
        let spec = &self.config.markets[market];
        let tick = u64::from(spec.subticks_per_tick);
        let offset = tick * (1 + self.rng.below(spec.depth_ticks()));
        let mid = self.mid_subticks(market);
        let up = (side == SIDE_SELL) != aggressive;
        if up {
            mid + offset
        } else {
            mid.saturating_sub(offset).max(tick)
        }
    }

    fn random_size(&mut self, market: usize, max_steps: u64) -> u64 {
        self.config.markets[market].step_base_quantums * (1 + self.rng.below(max_steps))
    }

    fn new_order(&mut self, account: usize, market: usize, side: i32, flags: u32) -> IndexerOrder {
        self.next_client_id = self.next_client_id.wrapping_add(1);
        let good_til = if flags == FLAGS_SHORT_TERM {
            GoodTilOneof::GoodTilBlock(self.height + 1 + self.rng.below(GOOD_TIL_BLOCKS) as u32)
        } else {
            let (min, max) = LONG_TERM_SECONDS;
            let lifetime = min + self.rng.below(max - min);
            GoodTilOneof::GoodTilBlockTime((self.block_time_secs() as u64 + lifetime) as u32)
        };
        IndexerOrder {
            order_id: Some(IndexerOrderId {
                subaccount_id: Some(self.subaccount(account)),
                client_id: self.next_client_id,
                order_flags: flags,
                clob_pair_id: market as u32,
            }),
            side,
            good_til_oneof: Some(good_til),
            time_in_force: TIF_UNSPECIFIED,
            ..Default::default()
        }
    }

    /// A limit order a few ticks away from the oracle on its own side of the book (it still
    /// matches if the book has moved through it).
    fn place_resting_order(&mut self, b: &mut BlockBuilder) {
        let market = self.random_market();
        let account = self.random_account();
        let side = if self.rng.below(2) == 0 {
            SIDE_BUY
        } else {
            SIDE_SELL
        };
        let stateful = self.rng.below(100) < self.config.stateful_order_percent;
        let flags = if stateful {
            FLAGS_LONG_TERM
        } else {
            FLAGS_SHORT_TERM
        };
        let mut order = self.new_order(account, market, side, flags);
        order.subticks = self.price_near_oracle(market, side, false);
        order.quantums = self.random_size(market, 100);
        if stateful {
            b.tx();
            b.add("stateful_order", 1, &long_term_placement(&order));
        }
        self.submit(b, account, order);
    }

    /// A short-term order priced through the oracle into the other side: IOC most of the time,
    /// otherwise a limit order whose remainder rests.
    fn place_taker_order(&mut self, b: &mut BlockBuilder) {
        let market = self.random_market();
        let account = self.random_account();
        let side = if self.rng.below(2) == 0 {
            SIDE_BUY
        } else {
            SIDE_SELL
        };
        let mut order = self.new_order(account, market, side, FLAGS_SHORT_TERM);
        order.subticks = self.price_near_oracle(market, side, true);
        order.quantums = self.random_size(market, 150);
        if self.rng.below(10) < 6 {
            order.time_in_force = TIF_IOC;
        }
        self.submit(b, account, order);
    }

    /// What a node does with an incoming order (ingest.md §5.2): announce it, match it against
    /// the book (fills on chain, maker updates off chain), then either report its fill (it
    /// rests with what is left, or is done) or remove an IOC remainder.
    fn submit(&mut self, b: &mut BlockBuilder, account: usize, order: IndexerOrder) {
        let id = order.order_id.clone().expect("orders carry their id");
        self.send(&id, place(&order));
        let market = id.clob_pair_id as usize;
        let taken = self.books[market].take(account, order.side, order.subticks, order.quantums);
        self.remove_self_trades(b, &taken);
        let mut filled = 0;
        for matched in &taken.matches {
            filled += matched.fill;
            self.send(
                matched.maker.id(),
                update(matched.maker.id(), matched.maker.filled),
            );
            self.record_fill(b, account, &order, filled, matched);
        }
        if taken.remaining > 0 && order.time_in_force == TIF_IOC {
            let reason = OrderRemovalReason::ImmediateOrCancelWouldRestOnBook;
            self.send(
                &id,
                remove(&id, reason, OrderRemovalStatus::BestEffortCanceled),
            );
        } else {
            self.send(&id, update(&id, filled));
            if taken.remaining > 0 {
                self.books[market].rest(RestingOrder {
                    order,
                    account,
                    filled,
                });
            }
        }
    }

    /// Makers of the incoming order's own account are removed instead of matched: off chain for
    /// short-term orders, on chain for stateful ones.
    fn remove_self_trades(&mut self, b: &mut BlockBuilder, taken: &Taken) {
        let reason = OrderRemovalReason::SelfTradeError;
        for removed in &taken.self_trade_removals {
            let id = removed.id().clone();
            if removed.is_stateful() {
                b.tx();
                b.add("stateful_order", 1, &stateful_removal(&id, reason));
            } else {
                self.send(
                    &id,
                    remove(&id, reason, OrderRemovalStatus::BestEffortCanceled),
                );
            }
        }
    }

    /// One match of a regular taker: both subaccount updates, then the fill, in one transaction.
    fn record_fill(
        &mut self,
        b: &mut BlockBuilder,
        taker: usize,
        taker_order: &IndexerOrder,
        taker_filled: u64,
        matched: &crate::book::Match,
    ) {
        let market = taker_order
            .order_id
            .as_ref()
            .map_or(0, |id| id.clob_pair_id) as usize;
        let spec = &self.config.markets[market];
        let quote = spec.quote_quantums(matched.fill, matched.maker.order.subticks);
        let taker_fee = fee(quote, TAKER_FEE_PPM);
        let maker_fee = fee(quote, MAKER_FEE_PPM);
        b.tx();
        self.trade(
            b,
            taker,
            market,
            taker_order.side,
            matched.fill,
            quote,
            taker_fee,
        );
        let maker_side = matched.maker.order.side;
        self.trade(
            b,
            matched.maker.account,
            market,
            maker_side,
            matched.fill,
            quote,
            maker_fee,
        );
        b.add(
            "order_fill",
            1,
            &ev::OrderFillEventV1 {
                maker_order: Some(matched.maker.order.clone()),
                taker_order: Some(ev::order_fill_event_v1::TakerOrder::Order(
                    taker_order.clone(),
                )),
                fill_amount: matched.fill,
                maker_fee,
                taker_fee,
                total_filled_maker: matched.maker.filled,
                total_filled_taker: taker_filled,
                ..Default::default()
            },
        );
    }

    /// One side of a trade in the ledger, as its `subaccount_update` event.
    #[allow(clippy::too_many_arguments)]
    fn trade(
        &mut self,
        b: &mut BlockBuilder,
        account: usize,
        market: usize,
        side: i32,
        quantums: u64,
        quote: i64,
        fee: i64,
    ) {
        let signed = quantums as i64;
        let (size, cash) = if side == SIDE_BUY {
            (signed, -quote)
        } else {
            (-signed, quote)
        };
        let change = Change {
            sizes: vec![(market, size)],
            usdc: cash - fee,
        };
        self.update_subaccount(b, account, &change);
    }

    fn update_subaccount(&mut self, b: &mut BlockBuilder, account: usize, change: &Change) {
        let id = self.subaccount(account);
        let event = self.ledger.apply(account, id, change);
        b.add("subaccount_update", 1, &event);
    }

    /// A random resting order is canceled: short-term orders off chain (best effort), stateful
    /// orders by an on-chain removal.
    fn cancel_random_order(&mut self, b: &mut BlockBuilder) {
        let market = self.random_market();
        let count = self.books[market].len();
        if count == 0 {
            return;
        }
        let pick = self.rng.below(count as u64) as usize;
        let id = self.books[market]
            .orders()
            .nth(pick)
            .expect("pick is below the count")
            .id()
            .clone();
        let removed = self.books[market].remove(&id).expect("the order rests");
        let reason = OrderRemovalReason::UserCanceled;
        if removed.is_stateful() {
            b.tx();
            b.add("stateful_order", 1, &stateful_removal(&id, reason));
        } else {
            self.send(
                &id,
                remove(&id, reason, OrderRemovalStatus::BestEffortCanceled),
            );
        }
    }

    /// At the commit of the previous block, short-term orders past their good-til-block left
    /// every book (`Remove(EXPIRED, CANCELED)`).
    fn expire_short_term_orders(&mut self) {
        let height = self.height;
        for market in 0..self.books.len() {
            let expired = self.books[market]
                .remove_where(|o| !o.is_stateful() && expired_at(&o.order, height, i64::MAX));
            for order in expired {
                let id = order.id();
                let status = OrderRemovalStatus::Canceled;
                self.send(id, remove(id, OrderRemovalReason::Expired, status));
            }
        }
    }

    /// Long-term orders past their good-til-block-time are removed in END_BLOCK.
    fn expire_stateful_orders(&mut self, b: &mut BlockBuilder) {
        let now = self.block_time_secs();
        for book in &mut self.books {
            let expired = book.remove_where(|o| o.is_stateful() && expired_at(&o.order, 0, now));
            for order in expired {
                let reason = OrderRemovalReason::Expired;
                b.end_block("stateful_order", &stateful_removal(order.id(), reason));
            }
        }
    }

    /// A protocol liquidation of part of a random position, matched against the book like an
    /// IOC order, paying the liquidation fee.
    fn liquidate(&mut self, b: &mut BlockBuilder) {
        let market = self.random_market();
        let holders: Vec<(usize, i64)> = self.ledger.holders(market).collect();
        if holders.is_empty() {
            return;
        }
        let (account, size) = holders[self.rng.below(holders.len() as u64) as usize];
        let is_buy = size < 0;
        let side = if is_buy { SIDE_BUY } else { SIDE_SELL };
        let quantums = size.unsigned_abs().min(self.random_size(market, 50));
        let worst = self.price_near_oracle(market, side, true);
        let taken = self.books[market].take(account, side, worst, quantums);
        self.remove_self_trades(b, &taken);
        let liquidation = ev::LiquidationOrderV1 {
            liquidated: Some(self.subaccount(account)),
            clob_pair_id: market as u32,
            perpetual_id: market as u32,
            total_size: quantums,
            is_buy,
            subticks: worst,
        };
        for matched in &taken.matches {
            let maker = matched.maker.id().clone();
            self.send(&maker, update(&maker, matched.maker.filled));
            let quote = self.config.markets[market]
                .quote_quantums(matched.fill, matched.maker.order.subticks);
            let taker_fee = fee(quote, LIQUIDATION_FEE_PPM);
            let maker_fee = fee(quote, MAKER_FEE_PPM);
            b.tx();
            self.trade(b, account, market, side, matched.fill, quote, taker_fee);
            let maker_side = matched.maker.order.side;
            self.trade(
                b,
                matched.maker.account,
                market,
                maker_side,
                matched.fill,
                quote,
                maker_fee,
            );
            b.add(
                "order_fill",
                1,
                &ev::OrderFillEventV1 {
                    maker_order: Some(matched.maker.order.clone()),
                    taker_order: Some(ev::order_fill_event_v1::TakerOrder::LiquidationOrder(
                        liquidation.clone(),
                    )),
                    fill_amount: matched.fill,
                    maker_fee,
                    taker_fee,
                    total_filled_maker: matched.maker.filled,
                    total_filled_taker: matched.fill,
                    ..Default::default()
                },
            );
        }
    }

    /// A position closed against an account holding the opposite side, at the oracle price.
    fn deleverage(&mut self, b: &mut BlockBuilder) {
        let market = self.random_market();
        let holders: Vec<(usize, i64)> = self.ledger.holders(market).collect();
        let Some(&(liquidated, size)) =
            holders.get(self.rng.below(holders.len().max(1) as u64) as usize)
        else {
            return;
        };
        let Some(&(offsetting, other)) = holders.iter().find(|(_, s)| s.signum() == -size.signum())
        else {
            return;
        };
        let quantums = size
            .unsigned_abs()
            .min(other.unsigned_abs())
            .min(self.random_size(market, 20));
        let price = self.mid_subticks(market);
        let quote = self.config.markets[market].quote_quantums(quantums, price);
        let is_buy = size < 0;
        let side = if is_buy { SIDE_BUY } else { SIDE_SELL };
        b.tx();
        self.trade(b, liquidated, market, side, quantums, quote, 0);
        self.trade(b, offsetting, market, opposite(side), quantums, quote, 0);
        b.add(
            "deleveraging",
            1,
            &ev::DeleveragingEventV1 {
                liquidated: Some(self.subaccount(liquidated)),
                offsetting: Some(self.subaccount(offsetting)),
                perpetual_id: market as u32,
                fill_amount: quantums,
                total_quote_quantums: quote as u64,
                is_buy,
                is_final_settlement: false,
            },
        );
    }

    /// A transfer between two subaccounts, a deposit or a withdrawal, of $1 to $100.
    fn transfer(&mut self, b: &mut BlockBuilder) {
        let amount = 1_000_000 * (1 + self.rng.below(100));
        let from = self.random_account();
        match self.rng.below(3) {
            0 => self.deposit(b, from, amount),
            1 => self.withdraw(b, from, amount),
            _ => {
                let to = (from + 1) % self.config.accounts;
                self.transfer_between(b, from, to, amount);
            }
        }
    }

    fn deposit(&mut self, b: &mut BlockBuilder, account: usize, amount: u64) {
        b.tx();
        self.move_usdc(b, account, amount as i64);
        let wallet = self.addresses[account].clone();
        b.add(
            "transfer",
            1,
            &transfer_event(
                wallet_source(wallet),
                subaccount_source(self.subaccount(account)),
                amount,
            ),
        );
    }

    fn withdraw(&mut self, b: &mut BlockBuilder, account: usize, amount: u64) {
        b.tx();
        self.move_usdc(b, account, -(amount as i64));
        let wallet = self.addresses[account].clone();
        b.add(
            "transfer",
            1,
            &transfer_event(
                subaccount_source(self.subaccount(account)),
                wallet_source(wallet),
                amount,
            ),
        );
    }

    fn transfer_between(&mut self, b: &mut BlockBuilder, from: usize, to: usize, amount: u64) {
        b.tx();
        self.move_usdc(b, from, -(amount as i64));
        self.move_usdc(b, to, amount as i64);
        let mut event = transfer_event(
            subaccount_source(self.subaccount(from)),
            subaccount_source(self.subaccount(to)),
            amount,
        );
        event.sender_subaccount_id = Some(self.subaccount(from));
        event.recipient_subaccount_id = Some(self.subaccount(to));
        b.add("transfer", 1, &event);
    }

    fn move_usdc(&mut self, b: &mut BlockBuilder, account: usize, amount: i64) {
        let change = Change {
            sizes: vec![],
            usdc: amount,
        };
        self.update_subaccount(b, account, &change);
    }

    /// A premium sample per market every block; every `funding_interval_blocks` the funding
    /// tick: the 8-hour rate (default rate plus the average premium) and the new funding index.
    fn funding(&mut self, b: &mut BlockBuilder) {
        let mut samples = Vec::with_capacity(self.premiums.len());
        for (id, (sum, count)) in self.premiums.iter_mut().enumerate() {
            let premium = self.rng.below(21) as i32 - 10;
            *sum += i64::from(premium);
            *count += 1;
            samples.push(ev::FundingUpdateV1 {
                perpetual_id: id as u32,
                funding_value_ppm: premium,
                funding_index: vec![],
            });
        }
        b.end_block(
            "funding_values",
            &funding_event(samples, FUNDING_TYPE_PREMIUM_SAMPLE),
        );
        if !self
            .height
            .is_multiple_of(self.config.funding_interval_blocks)
        {
            return;
        }
        let mut ticks = Vec::with_capacity(self.premiums.len());
        for id in 0..self.premiums.len() {
            let (sum, count) = std::mem::take(&mut self.premiums[id]);
            let rate = DEFAULT_FUNDING_8H_PPM + (sum / count.max(1)) as i32;
            let delta = self.config.markets[id].funding_index_delta(rate, self.prices[id]);
            self.ledger.add_funding(id, delta);
            ticks.push(ev::FundingUpdateV1 {
                perpetual_id: id as u32,
                funding_value_ppm: rate,
                funding_index: si(self.ledger.funding_index(id)),
            });
        }
        b.end_block(
            "funding_values",
            &funding_event(ticks, FUNDING_TYPE_FUNDING_RATE_AND_INDEX),
        );
    }

    fn send(&mut self, order_id: &IndexerOrderId, message: UpdateMessage) {
        self.off_chain.push(OffChainMessage::new(order_id, message));
    }
}

/// A fee of `ppm` parts per million of `quote`, truncated toward zero (negative = rebate).
fn fee(quote: i64, ppm: i64) -> i64 {
    (i128::from(quote) * i128::from(ppm) / 1_000_000) as i64
}

fn place(order: &IndexerOrder) -> UpdateMessage {
    UpdateMessage::OrderPlace(OrderPlaceV1 {
        order: Some(order.clone()),
        placement_status: OrderPlacementStatus::BestEffortOpened as i32,
        time_stamp: None,
    })
}

fn update(order_id: &IndexerOrderId, total_filled: u64) -> UpdateMessage {
    UpdateMessage::OrderUpdate(OrderUpdateV1 {
        order_id: Some(order_id.clone()),
        total_filled_quantums: total_filled,
    })
}

fn remove(
    order_id: &IndexerOrderId,
    reason: OrderRemovalReason,
    status: OrderRemovalStatus,
) -> UpdateMessage {
    UpdateMessage::OrderRemove(OrderRemoveV1 {
        removed_order_id: Some(order_id.clone()),
        reason: reason as i32,
        removal_status: status as i32,
        time_stamp: None,
    })
}

fn long_term_placement(order: &IndexerOrder) -> ev::StatefulOrderEventV1 {
    use ev::stateful_order_event_v1::{Event, LongTermOrderPlacementV1};
    ev::StatefulOrderEventV1 {
        event: Some(Event::LongTermOrderPlacement(LongTermOrderPlacementV1 {
            order: Some(order.clone()),
        })),
    }
}

fn stateful_removal(id: &IndexerOrderId, reason: OrderRemovalReason) -> ev::StatefulOrderEventV1 {
    use ev::stateful_order_event_v1::{Event, StatefulOrderRemovalV1};
    ev::StatefulOrderEventV1 {
        event: Some(Event::OrderRemoval(StatefulOrderRemovalV1 {
            removed_order_id: Some(id.clone()),
            reason: reason as i32,
        })),
    }
}

fn market_create(market_id: u32, market: &MarketSpec) -> ev::MarketEventV1 {
    ev::MarketEventV1 {
        market_id,
        event: Some(ev::market_event_v1::Event::MarketCreate(
            ev::MarketCreateEventV1 {
                base: Some(ev::MarketBaseEventV1 {
                    pair: market.ticker.clone(),
                    min_price_change_ppm: market.min_price_change_ppm,
                }),
                exponent: market.exponent,
            },
        )),
    }
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

fn perpetual_market_create(id: u32, market: &MarketSpec) -> ev::PerpetualMarketCreateEventV3 {
    ev::PerpetualMarketCreateEventV3 {
        id,
        clob_pair_id: id,
        ticker: market.ticker.clone(),
        market_id: id,
        status: CLOB_PAIR_STATUS_ACTIVE,
        quantum_conversion_exponent: market.quantum_conversion_exponent,
        atomic_resolution: market.atomic_resolution,
        subticks_per_tick: market.subticks_per_tick,
        step_base_quantums: market.step_base_quantums,
        liquidity_tier: market.liquidity_tier,
        market_type: MARKET_TYPE_CROSS,
        default_funding8hr_ppm: DEFAULT_FUNDING_8H_PPM,
    }
}

fn funding_event(updates: Vec<ev::FundingUpdateV1>, kind: i32) -> ev::FundingEventV1 {
    ev::FundingEventV1 {
        updates,
        r#type: kind,
    }
}

fn subaccount_source(id: IndexerSubaccountId) -> ev::SourceOfFunds {
    ev::SourceOfFunds {
        source: Some(ev::source_of_funds::Source::SubaccountId(id)),
    }
}

fn wallet_source(address: String) -> ev::SourceOfFunds {
    ev::SourceOfFunds {
        source: Some(ev::source_of_funds::Source::Address(address)),
    }
}

fn transfer_event(
    sender: ev::SourceOfFunds,
    recipient: ev::SourceOfFunds,
    amount: u64,
) -> ev::TransferEventV1 {
    ev::TransferEventV1 {
        asset_id: USDC_ASSET_ID,
        amount,
        sender: Some(sender),
        recipient: Some(recipient),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_amounts_and_funding_follow_the_spec_worked_example() {
        let btc = MarketSpec::btc_usd();
        // 0.1 BTC at $50,000 = $5,000 (ingest.md §3.10).
        assert_eq!(
            btc.quote_quantums(1_000_000_000, 5_000_000_000),
            5_000_000_000
        );
        // 100 ppm per 8 h at $50,000: $0.625 per BTC per hour; human index = index × 10^-2.
        assert_eq!(btc.funding_index_delta(100, 5_000_000_000), 62);
    }
}
