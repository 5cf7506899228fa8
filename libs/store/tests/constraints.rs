//! The CHECK constraints and defaults behave as the specification says writers rely on.

use indexer_testkit::db::TestDb;
use sqlx::PgPool;

const SUBACCOUNT: &str = "df91255d-5e17-5e2e-824a-87ddf3c5214a";
const OTHER_SUBACCOUNT: &str = "88030a34-aba0-50f5-b315-108f2d394405";

async fn exec(pool: &PgPool, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(pool).await.map(|_| ())
}

/// A block, its event, two subaccounts, a wallet, USDC and a BTC market.
async fn seed(pool: &PgPool) {
    for sql in [
        r#"INSERT INTO blocks ("blockHeight", time) VALUES (1000, '2024-01-01T00:00:00Z')"#,
        r#"INSERT INTO tendermint_events (id, "blockHeight", "transactionIndex", "eventIndex")
           VALUES ('\x000003e80000000400000003', 1000, 2, 3)"#,
        &format!(
            r#"INSERT INTO subaccounts (id, address, "subaccountNumber", "updatedAt", "updatedAtHeight")
               VALUES ('{SUBACCOUNT}', 'dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc565lnf', 0, now(), 1000),
                      ('{OTHER_SUBACCOUNT}', 'dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc575lnf', 0, now(), 1000)"#
        ),
        r#"INSERT INTO wallets (address, "totalTradingRewards") VALUES ('dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc565lnf', 0)"#,
        r#"INSERT INTO assets (id, "atomicResolution", "hasMarket", symbol) VALUES ('0', -6, false, 'USDC')"#,
        r#"INSERT INTO markets (id, pair, exponent, "minPriceChangePpm") VALUES (0, 'BTC-USD', -5, 1000)"#,
        r#"INSERT INTO liquidity_tiers (id, "initialMarginPpm", "maintenanceFractionPpm") VALUES (0, 50000, 600000)"#,
    ] {
        exec(pool, sql).await.unwrap();
    }
}

fn order(good_til_block: &str, good_til_block_time: &str) -> String {
    format!(
        r#"INSERT INTO orders (id, "subaccountId", "clientId", "clobPairId", side, size, "totalFilled",
              price, type, status, "timeInForce", "reduceOnly", "orderFlags", "goodTilBlock",
              "goodTilBlockTime", "clientMetadata")
           VALUES (gen_random_uuid(), '{SUBACCOUNT}', 1, 0, 'BUY', 1, 0, 100, 'LIMIT', 'OPEN', 'GTT',
              false, 0, {good_til_block}, {good_til_block_time}, 0)"#
    )
}

#[tokio::test]
async fn an_order_has_exactly_one_of_good_til_block_and_good_til_block_time() {
    let db = TestDb::new().await;
    let pool = db.pool();
    seed(pool).await;
    exec(pool, &order("1020", "NULL"))
        .await
        .expect("short-term order");
    exec(pool, &order("NULL", "'2024-01-02T00:00:00Z'"))
        .await
        .expect("long-term order");
    assert!(
        exec(pool, &order("1020", "'2024-01-02T00:00:00Z'"))
            .await
            .is_err(),
        "both set"
    );
    assert!(
        exec(pool, &order("NULL", "NULL")).await.is_err(),
        "neither set"
    );
    db.cleanup().await;
}

fn transfer(
    sender_subaccount: &str,
    sender_wallet: &str,
    recipient_subaccount: &str,
    recipient_wallet: &str,
) -> String {
    format!(
        r#"INSERT INTO transfers (id, "senderSubaccountId", "recipientSubaccountId", "assetId", size,
              "eventId", "transactionHash", "createdAt", "createdAtHeight", "recipientWalletAddress",
              "senderWalletAddress")
           VALUES (gen_random_uuid(), {sender_subaccount}, {recipient_subaccount}, '0', 5,
              '\x000003e80000000400000003', 'AB', now(), 1000, {recipient_wallet}, {sender_wallet})"#
    )
}

#[tokio::test]
async fn each_transfer_side_is_a_subaccount_or_a_wallet_never_both() {
    let db = TestDb::new().await;
    let pool = db.pool();
    seed(pool).await;
    let (sub, other, wallet) = (
        format!("'{SUBACCOUNT}'"),
        format!("'{OTHER_SUBACCOUNT}'"),
        "'dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc565lnf'".to_string(),
    );
    exec(pool, &transfer(&sub, "NULL", &other, "NULL"))
        .await
        .expect("subaccount to subaccount");
    exec(pool, &transfer("NULL", &wallet, &sub, "NULL"))
        .await
        .expect("deposit");
    exec(pool, &transfer(&sub, "NULL", "NULL", &wallet))
        .await
        .expect("withdrawal");
    assert!(
        exec(pool, &transfer(&sub, &wallet, &other, "NULL"))
            .await
            .is_err(),
        "two senders"
    );
    assert!(
        exec(pool, &transfer(&sub, "NULL", "NULL", "NULL"))
            .await
            .is_err(),
        "no recipient"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn enumerations_reject_unknown_values() {
    let db = TestDb::new().await;
    let pool = db.pool();
    seed(pool).await;
    let market = |status: &str| {
        format!(
            r#"INSERT INTO perpetual_markets (id, "clobPairId", ticker, "marketId", status,
                  "priceChange24H", "volume24H", "trades24H", "nextFundingRate", "openInterest",
                  "quantumConversionExponent", "atomicResolution", "subticksPerTick", "stepBaseQuantums")
               VALUES (0, 0, 'BTC-USD', 0, '{status}', 0, 0, 0, 0, 0, -9, -10, 100000, 1000000)"#
        )
    };
    assert!(
        exec(pool, &market("active")).await.is_err(),
        "values are case-sensitive"
    );
    exec(pool, &market("FINAL_SETTLEMENT"))
        .await
        .expect("known status");
    db.cleanup().await;
}

#[tokio::test]
async fn columns_with_defaults_can_be_omitted() {
    let db = TestDb::new().await;
    let pool = db.pool();
    seed(pool).await;
    exec(
        pool,
        r#"INSERT INTO perpetual_markets (id, "clobPairId", ticker, "marketId", status,
              "priceChange24H", "volume24H", "trades24H", "nextFundingRate", "openInterest",
              "quantumConversionExponent", "atomicResolution", "subticksPerTick", "stepBaseQuantums")
           VALUES (0, 0, 'BTC-USD', 0, 'ACTIVE', 0, 0, 0, 0, 0, -9, -10, 100000, 1000000)"#,
    )
    .await
    .unwrap();
    let (tier, market_type, base_oi): (i32, String, Option<String>) = sqlx::query_as(
        r#"SELECT "liquidityTierId", "marketType", "baseOpenInterest"::text FROM perpetual_markets"#,
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        (tier, market_type.as_str(), base_oi.as_deref()),
        (0, "CROSS", Some("0"))
    );

    exec(
        pool,
        &format!(
            r#"INSERT INTO fills (id, "subaccountId", side, liquidity, type, "clobPairId", size, price,
                  "quoteAmount", "eventId", "transactionHash", "createdAt", "createdAtHeight")
               VALUES (gen_random_uuid(), '{SUBACCOUNT}', 'BUY', 'TAKER', 'LIMIT', 0, 1, 100, 100,
                  '\x000003e80000000400000003', 'AB', now(), 1000)"#
        ),
    )
    .await
    .unwrap();
    let (fee, rev_share): (String, String) =
        sqlx::query_as(r#"SELECT fee, "affiliateRevShare"::text FROM fills"#)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((fee.as_str(), rev_share.as_str()), ("0", "0"));
    db.cleanup().await;
}
