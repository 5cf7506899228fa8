//! dYdX's official Python client (`dydx-v4-client` 1.1.5, its `IndexerClient`) calls every REST
//! method it has against comlink and parses the results (issue 5, "Tests").
//!
//! The data is written through the real ingestion code: 50 blocks of the devnet's simulated chain
//! (two markets, four accounts, fills, transfers, two funding ticks) through ender's block
//! pipeline, one hand-built block with a trading reward and an affiliate registration, and a
//! BTC-USD book through vulcan's processor. Rows that only roundtable's periodic jobs write
//! (usernames, PnL ticks, funding payments, reward aggregations) are inserted with SQL.
//!
//! Python comes from `COMLINK_PYTHON`, else from `tests/python/env.sh`, which creates a venv with
//! the client (from PyPI) under `target/`. Not having it is a failure.

mod common;

use std::collections::BTreeSet;

use common::ingest::{self, owner_address, Ender, MarketSpec, RestingOrder};
use common::python::{python, python_dir};
use common::{Seed, TestApp};
use devnet::chain::{ChainConfig, SimulatedChain};
use indexer_domain::ids::subaccount_uuid;
use indexer_domain::Decimal;
use indexer_testkit::db::TestDb;
use serde_json::{json, Value};
use sqlx::PgPool;

const BLOCKS: u32 = 50;
const FUNDING_INTERVAL: u32 = 20;
const GENESIS_SECS: i64 = 1_704_067_200;
const BLOCK_SECS: i64 = 2;
const USERNAME: &str = "GreenWhale42";
/// 2.5 reward tokens, in the denom's 10^-18 units.
const REWARD_UNITS: u128 = 2_500_000_000_000_000_000;
const BOOK_LEVELS: u32 = 5;

/// What the Python client may not reach yet, and why (kept in step with `KNOWN_GAPS` in
/// tests/python/indexer_client.py).
const ALLOWED_GAPS: &[&str] = &[
    "megavault.get_megavault_historical_pnl",
    "megavault.get_vaults_historical_pnl",
    "megavault.get_megavault_positions",
    "affiliate.get_snapshot",
];

fn config() -> ChainConfig {
    ChainConfig {
        seed: 11,
        markets: vec![MarketSpec::btc_usd(), MarketSpec::eth_usd()],
        funding_interval_blocks: FUNDING_INTERVAL,
        block_interval_secs: BLOCK_SECS,
        genesis_time_secs: GENESIS_SECS,
        ..ChainConfig::default()
    }
}

/// Human oracle price of market `index` of `chain`.
fn oracle_price(chain: &SimulatedChain, index: usize) -> Decimal {
    let market = &chain.config().markets[index];
    Decimal::from_scaled(chain.prices()[index], i64::from(market.exponent))
}

/// Human position size (signed) of `account` in market `index`.
fn position_size(chain: &SimulatedChain, account: usize, index: usize) -> Decimal {
    let market = &chain.config().markets[index];
    Decimal::from_scaled(
        chain.position(account, index),
        i64::from(market.atomic_resolution),
    )
}

/// Human price of `subticks` in `market` (serve.md §3.8 item 10).
fn subticks_price(market: &MarketSpec, subticks: u64) -> Decimal {
    let exponent = market.quantum_conversion_exponent - 6 - market.atomic_resolution;
    Decimal::from_scaled(subticks, i64::from(exponent))
}

fn d(value: &Value) -> Decimal {
    Decimal::parse(
        value
            .as_str()
            .unwrap_or_else(|| panic!("not a string: {value}")),
    )
    .unwrap_or_else(|e| panic!("not a decimal: {value}: {e}"))
}

/// Σ over the open positions of subaccount `$1` of size × (F at its `updatedAtHeight` − F latest).
const UNSETTLED_FUNDING: &str = r#"
    WITH sub AS (SELECT "updatedAtHeight" AS h FROM subaccounts WHERE id = $1::uuid),
    latest AS (SELECT DISTINCT ON ("perpetualId") "perpetualId", "fundingIndex" FROM funding_index_updates
               ORDER BY "perpetualId", "effectiveAtHeight" DESC),
    then_ AS (SELECT DISTINCT ON ("perpetualId") "perpetualId", "fundingIndex" FROM funding_index_updates, sub
              WHERE "effectiveAtHeight" <= sub.h ORDER BY "perpetualId", "effectiveAtHeight" DESC)
    SELECT COALESCE(sum(p.size * (COALESCE(t."fundingIndex", 0) - COALESCE(l."fundingIndex", 0))), 0)::text
    FROM perpetual_positions p
    LEFT JOIN latest l ON l."perpetualId" = p."perpetualId"
    LEFT JOIN then_ t ON t."perpetualId" = p."perpetualId"
    WHERE p."subaccountId" = $1::uuid AND p.status = 'OPEN'"#;

async fn text(pool: &PgPool, sql: &str, bind: &str) -> String {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
}

async fn scalar_i64(pool: &PgPool, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The seeded world: the chain (its final state), the book placed through vulcan, and the
/// facts the Python script needs.
struct World {
    chain: SimulatedChain,
    book: Vec<RestingOrder>,
    facts: Value,
}

async fn seed(app: &TestApp) -> World {
    let pool = app.db.pool();
    let mut chain = SimulatedChain::new(config());
    let mut ender = Ender::new(pool).await;
    ender.run(&mut chain, BLOCKS).await;
    let a = owner_address(0);
    let b = owner_address(1);
    let extra_height = chain.height();
    ender
        .apply(&ingest::block_of(
            extra_height,
            GENESIS_SECS + i64::from(extra_height) * BLOCK_SECS,
            vec![
                ingest::trading_reward(&a, REWARD_UNITS),
                ingest::register_affiliate(&b, &a),
            ],
        ))
        .await;

    let btc = &chain.config().markets[0];
    let mid = btc.subticks_at(chain.prices()[0]);
    let book = ingest::ladder(
        btc,
        0,
        mid,
        BOOK_LEVELS,
        10 * btc.step_base_quantums,
        1_000_000,
    );
    ingest::place_orders(pool, app.state.cache(), &book).await;

    // Roundtable's outputs.
    let seed = Seed { pool };
    let sub_a = subaccount_uuid(&a, 0);
    seed.username(sub_a, USERNAME).await;
    seed.pnl_tick(sub_a, 40, "1000123.5").await;
    seed.funding_payment(sub_a, 0, 40, "-1.25").await;
    seed.reward_aggregation(&a, "DAILY", 1, None, "2.5").await;

    let order_id: String = sqlx::query_scalar(
        r#"SELECT o.id::text FROM orders o WHERE o."subaccountId" = $1::uuid AND o."clobPairId" = 0
           ORDER BY o."createdAtHeight" DESC LIMIT 1"#,
    )
    .bind(sub_a.to_string())
    .fetch_one(pool)
    .await
    .expect("account A has an order from its fills");
    let (sender, recipient): (String, String) = sqlx::query_as(
        r#"SELECT s.address, r.address FROM transfers t
           JOIN subaccounts s ON s.id = t."senderSubaccountId"
           JOIN subaccounts r ON r.id = t."recipientSubaccountId"
           ORDER BY t."createdAtHeight" LIMIT 1"#,
    )
    .fetch_one(pool)
    .await
    .expect("the chain made a transfer");
    let facts = json!({
        "address": a,
        "subaccountNumber": 0,
        "ticker": "BTC-USD",
        "height": extra_height,
        "orderId": order_id,
        "transferSender": sender,
        "transferRecipient": recipient,
        "username": USERNAME,
        "affiliate": a,
    });
    World { chain, book, facts }
}

async fn run_client(base_url: &str, facts: &Value) -> Value {
    let output = tokio::process::Command::new(python())
        .arg(python_dir().join("indexer_client.py"))
        .arg(base_url)
        .arg(facts.to_string())
        .output()
        .await
        .expect("running the Python client");
    assert!(
        output.status.success(),
        "the Python client crashed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "the client's report is not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_python_client_calls_every_rest_method_and_parses_the_results() {
    let python = python();
    assert!(python.exists(), "no python at {}", python.display());
    let app = TestApp::start(TestDb::new().await).await;
    let world = seed(&app).await;
    // The market cache and the height watch refresh in the background; read them now.
    app.state
        .markets()
        .refresh(app.state.pools().reader())
        .await
        .unwrap();
    app.state.heights().refresh().await.unwrap();

    let report = run_client(&app.base_url, &world.facts).await;
    let results = &report["results"];

    // Nothing failed, every method of the client was called, and only the known gaps remain.
    assert_eq!(
        report["errors"],
        json!({}),
        "methods that failed: {report:#}"
    );
    let methods: BTreeSet<&str> = report["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(
        methods.len() >= 39,
        "the client 1.1.5 has 39 methods, found {}",
        methods.len()
    );
    let answered: BTreeSet<&str> = results
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    let gaps: BTreeSet<&str> = report["gaps"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    for gap in &gaps {
        assert!(ALLOWED_GAPS.contains(gap), "unexpected gap {gap}");
        eprintln!("known gap: {gap}: {}", report["gaps"][gap]);
    }
    assert_eq!(
        answered.union(&gaps).copied().collect::<BTreeSet<_>>(),
        methods,
        "every method answered or listed as a gap"
    );

    check_values(&app, &world, results).await;
    app.stop().await;
}

async fn check_values(app: &TestApp, world: &World, results: &Value) {
    let chain = &world.chain;
    let pool = app.db.pool();
    let a = owner_address(0);
    let sub_a = subaccount_uuid(&a, 0).to_string();

    // Utility.
    assert_eq!(
        results["utility.get_height"]["height"],
        json!(chain.height().to_string())
    );
    assert_eq!(results["utility.screen"], json!({"restricted": false}));
    assert_eq!(
        results["utility.compliance_screen"],
        json!({"status": "COMPLIANT"})
    );

    // Markets: the oracle prices ender wrote from the chain's last price updates.
    let markets = &results["markets.get_perpetual_markets"];
    for (index, ticker) in ["BTC-USD", "ETH-USD"].iter().enumerate() {
        assert_eq!(
            d(&markets[ticker]["oraclePrice"]),
            oracle_price(chain, index),
            "{ticker}"
        );
        assert_eq!(markets[ticker]["status"], "ACTIVE");
        assert_eq!(markets[ticker]["clobPairId"], json!(index.to_string()));
    }
    assert_eq!(
        d(&markets["BTC-USD"]["tickSize"]),
        Decimal::parse("1").unwrap()
    );

    // The book vulcan built: bids descending, asks ascending, one order per level.
    let btc = &chain.config().markets[0];
    let size = Decimal::from_scaled(
        10 * btc.step_base_quantums,
        i64::from(btc.atomic_resolution),
    );
    let side = |buy: bool| -> Vec<(Decimal, Decimal)> {
        let mut levels: Vec<_> = world
            .book
            .iter()
            .filter(|o| o.buy == buy)
            .map(|o| (subticks_price(btc, o.subticks), size.clone()))
            .collect();
        levels.sort_by(|x, y| x.0.cmp(&y.0));
        if buy {
            levels.reverse();
        }
        levels
    };
    let book = &results["markets.get_perpetual_market_orderbook"];
    let parsed = |key: &str| -> Vec<(Decimal, Decimal)> {
        book[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (d(&l[0]), d(&l[1])))
            .collect()
    };
    assert_eq!(parsed("bids"), side(true));
    assert_eq!(parsed("asks"), side(false));

    // Trades, candles, funding ticks (heights 20 and 40).
    let trades = results["markets.get_perpetual_market_trades"]
        .as_array()
        .unwrap();
    assert_eq!(trades.len(), 5);
    let funding = results["markets.get_perpetual_market_historical_funding"]
        .as_array()
        .unwrap();
    let heights: Vec<&str> = funding
        .iter()
        .map(|f| f["effectiveAtHeight"].as_str().unwrap())
        .collect();
    assert_eq!(heights, ["40", "20"]);
    let candles = results["markets.get_perpetual_market_candles"]
        .as_array()
        .unwrap();
    assert!(!candles.is_empty() && candles.iter().all(|c| c["ticker"] == "BTC-USD"));

    // The subaccount: equity = USDC + unsettled funding + Σ size × oracle price, with USDC as
    // ender stored it, sizes and prices from the chain, and the funding indexes of serve.md §3.8.
    let usdc = Decimal::parse(
        &text(
            pool,
            r#"SELECT (CASE WHEN "isLong" THEN size ELSE -size END)::text FROM asset_positions
               WHERE "subaccountId" = $1::uuid AND "assetId" = '0'"#,
            &sub_a,
        )
        .await,
    )
    .unwrap();
    let unsettled = Decimal::parse(&text(pool, UNSETTLED_FUNDING, &sub_a).await).unwrap();
    let mut equity = usdc.clone() + unsettled.clone();
    for index in 0..2 {
        equity = equity + position_size(chain, 0, index) * oracle_price(chain, index);
    }
    let subaccount = &results["account.get_subaccount"];
    assert_eq!(subaccount["address"], json!(a));
    assert_eq!(d(&subaccount["equity"]), equity);
    let adjusted = usdc.clone() + unsettled;
    assert_eq!(
        d(&subaccount["assetPositions"]["USDC"]["size"]),
        adjusted.abs()
    );
    for (index, ticker) in ["BTC-USD", "ETH-USD"].iter().enumerate() {
        let expected = position_size(chain, 0, index);
        let position = &subaccount["openPerpetualPositions"][ticker];
        if expected.is_zero() {
            assert!(position.is_null(), "{ticker} closed");
        } else {
            assert_eq!(d(&position["size"]), expected, "{ticker}");
            assert_eq!(
                position["side"],
                if expected.is_negative() {
                    "SHORT"
                } else {
                    "LONG"
                }
            );
        }
    }
    let listed = &results["account.get_subaccounts"];
    assert_eq!(d(&listed[0]["equity"]), equity);
    let parent = &results["account.get_parent_subaccount"];
    assert_eq!(d(&parent["equity"]), equity);
    let positions = results["account.get_subaccount_perpetual_positions"]
        .as_array()
        .unwrap();
    let open_markets = (0..2)
        .filter(|i| !position_size(chain, 0, *i).is_zero())
        .count();
    assert_eq!(positions.len(), open_markets);
    let assets = &results["account.get_subaccount_asset_positions"];
    assert_eq!(assets[0]["symbol"], "USDC");
    assert_eq!(d(&assets[0]["size"]), adjusted.abs());

    // Fills and orders: as many as ender wrote.
    let fills_btc = scalar_i64(
        pool,
        r#"SELECT count(*) FROM fills WHERE "subaccountId" = $1::uuid AND "clobPairId" = 0"#,
        &sub_a,
    )
    .await;
    let fills_all = scalar_i64(
        pool,
        r#"SELECT count(*) FROM fills WHERE "subaccountId" = $1::uuid"#,
        &sub_a,
    )
    .await;
    assert!(fills_btc > 0);
    // The client sends `ticker` on /v4/fills, which the reference ignores (serve.md §2.1): all
    // fills come back. (Its parent variant renames `market` to `ticker` too but keeps
    // `marketType`, which the reference answers with 400; it is called without a market.)
    let fills = results["account.get_subaccount_fills"].as_array().unwrap();
    assert_eq!(fills.len() as i64, fills_all);
    assert!(fills.iter().any(|f| f["market"] == "BTC-USD"));
    let parent_fills = results["account.get_parent_fills"].as_array().unwrap();
    assert_eq!(parent_fills.len() as i64, fills_all);
    assert_eq!(results["account.get_order"]["id"], world.facts["orderId"]);
    let db_orders = scalar_i64(
        pool,
        r#"SELECT count(*) FROM orders WHERE "subaccountId" = $1::uuid AND "clobPairId" = 0"#,
        &sub_a,
    )
    .await;
    let book_orders = world.book.iter().filter(|o| o.owner_index == 0).count() as i64;
    let orders = results["account.get_subaccount_orders"].as_array().unwrap();
    assert_eq!(orders.len() as i64, db_orders + book_orders);
    assert!(orders.iter().all(|o| o["ticker"] == "BTC-USD"));

    // Transfers.
    let transfers_a = scalar_i64(
        pool,
        r#"SELECT count(*) FROM transfers WHERE "senderSubaccountId" = $1::uuid
           OR "recipientSubaccountId" = $1::uuid"#,
        &sub_a,
    )
    .await;
    assert_eq!(
        results["account.get_subaccount_transfers"]
            .as_array()
            .unwrap()
            .len() as i64,
        transfers_a
    );
    let between = results["account.get_transfer_between"].as_array().unwrap();
    assert!(!between.is_empty());
    assert!(between.iter().all(|t| t["symbol"] == "USDC"));

    // Rewards (ender's trading_reward) and roundtable's outputs.
    assert_eq!(
        results["account.get_historical_block_trading_rewards"],
        json!([{"tradingReward": "2.500000000000000000", "createdAtHeight": chain.height().to_string()}])
    );
    let aggregated = &results["account.get_historical_trading_rewards_aggregated"];
    assert_eq!(aggregated[0]["period"], "DAILY");
    assert_eq!(results["account.search_traders"]["address"], json!(a));
    assert_eq!(results["affiliate.get_address"], json!({"address": a}));
    assert_eq!(results["affiliate.get_metadata"]["referralCode"], USERNAME);
    assert_eq!(results["affiliate.get_metadata"]["isAffiliate"], true);
    let payments = results["account.get_funding_payments"].as_array().unwrap();
    assert_eq!(d(&payments[0]["payment"]), Decimal::parse("-1.25").unwrap());
    let pnl = results["account.get_subaccount_historical_pnls"]
        .as_array()
        .unwrap();
    assert_eq!(d(&pnl[0]["equity"]), Decimal::parse("1000123.5").unwrap());
}
