//! Account routes: subaccounts with their derived values, positions, orders, fills, transfers
//! and PnL, with their validation and not-found bodies.

mod common;

use common::seed::{place_redis_order, FillSeed, PositionSeed};
use common::{address, Seed, TestApp};
use indexer_domain::ids::subaccount_uuid;
use indexer_proto::protocol::v1::indexer_order::GoodTilOneof;
use serde_json::json;
use uuid::Uuid;

/// One subaccount (address 1, number 0) last updated at height 10, the latest block 12:
/// - BTC long 0.1 @ 48000, settled funding −1.5; funding index 100 → 100.5;
/// - ETH short −2 @ 3100, settled funding 0.25; funding index 20 → 19;
/// - USDC 10000.
///
/// Unsettled funding: 0.1 × (100 − 100.5) = −0.05 and −2 × (20 − 19) = −2, total −2.05.
/// USDC 10000 − 2.05 = 9997.95. Equity 5000 − 6001 + 9997.95 = 8996.95.
/// Initial risk 5000 × 0.05 + 6001 × 0.1 = 850.1; free collateral 8146.85.
async fn account_app() -> (TestApp, String, Uuid) {
    let db = common::db_with_markets(1..=12).await;
    let seed = Seed { pool: db.pool() };
    let owner = address(1);
    let subaccount = seed.subaccount(&owner, 0, 10).await;
    seed.wallet(&owner, "12.345").await;
    seed.usdc(subaccount, "10000", true).await;
    seed.funding(0, 10, "0.0001", "50000", "100").await;
    seed.funding(0, 12, "0.0001", "50000", "100.5").await;
    seed.funding(1, 10, "0.0001", "3000", "20").await;
    seed.funding(1, 12, "0.0001", "3000", "19").await;
    let closed_open = seed.event(2, 0, 1).await;
    let closed_last = seed.event(3, 0, 1).await;
    seed.position(PositionSeed {
        subaccount,
        perpetual_id: 0,
        side: "LONG",
        status: "CLOSED",
        size: "0",
        entry_price: "40000",
        settled_funding: "0",
        open_event: closed_open,
        last_event: closed_last,
        created_at_height: 2,
        exit_price: Some("41000.50"),
    })
    .await;
    let btc_open = seed.event(5, 0, 1).await;
    seed.position(PositionSeed {
        subaccount,
        perpetual_id: 0,
        side: "LONG",
        status: "OPEN",
        size: "0.1",
        entry_price: "48000.000",
        settled_funding: "-1.5",
        open_event: btc_open.clone(),
        last_event: btc_open,
        created_at_height: 5,
        exit_price: None,
    })
    .await;
    let eth_open = seed.event(6, 0, 1).await;
    seed.position(PositionSeed {
        subaccount,
        perpetual_id: 1,
        side: "SHORT",
        status: "OPEN",
        size: "-2",
        entry_price: "3100",
        settled_funding: "0.25",
        open_event: eth_open.clone(),
        last_event: eth_open,
        created_at_height: 6,
        exit_price: None,
    })
    .await;
    (TestApp::start(db).await, owner, subaccount)
}

fn expected_subaccount(owner: &str) -> serde_json::Value {
    json!({
        "address": owner,
        "subaccountNumber": 0,
        "equity": "8996.95",
        "freeCollateral": "8146.85",
        "openPerpetualPositions": {
            "ETH-USD": {
                "market": "ETH-USD",
                "status": "OPEN",
                "side": "SHORT",
                "size": "-2",
                "maxSize": "-2",
                "entryPrice": "3100",
                "realizedPnl": "0",
                "createdAt": "2024-05-01T00:00:06.000Z",
                "createdAtHeight": "6",
                "sumOpen": "2",
                "sumClose": "0",
                "netFunding": "-1.75",
                "unrealizedPnl": "199",
                "closedAt": null,
                "exitPrice": null,
                "subaccountNumber": 0
            },
            "BTC-USD": {
                "market": "BTC-USD",
                "status": "OPEN",
                "side": "LONG",
                "size": "0.1",
                "maxSize": "0.1",
                "entryPrice": "48000",
                "realizedPnl": "0",
                "createdAt": "2024-05-01T00:00:05.000Z",
                "createdAtHeight": "5",
                "sumOpen": "0.1",
                "sumClose": "0",
                "netFunding": "-1.55",
                "unrealizedPnl": "200",
                "closedAt": null,
                "exitPrice": null,
                "subaccountNumber": 0
            }
        },
        "assetPositions": {
            "USDC": {"symbol": "USDC", "side": "LONG", "size": "9997.95", "assetId": "0", "subaccountNumber": 0}
        },
        "marginEnabled": true,
        "updatedAtHeight": "10",
        "latestProcessedBlockHeight": "12"
    })
}

#[tokio::test]
async fn subaccount_derived_values_match_the_formulas_to_the_last_digit() {
    let (app, owner, _) = account_app().await;
    let reply = app
        .get(&format!("/v4/addresses/{owner}/subaccountNumber/0"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!({"subaccount": expected_subaccount(&owner)})
    );
    // The latest position (by last event) comes first in the map.
    let raw = app
        .client
        .get(format!(
            "{}/v4/addresses/{owner}/subaccountNumber/0",
            app.base_url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(raw.find("\"ETH-USD\"").unwrap() < raw.find("\"BTC-USD\"").unwrap());
    common::assert_key_order(
        &raw,
        &[
            "address",
            "subaccountNumber",
            "equity",
            "freeCollateral",
            "openPerpetualPositions",
            "market",
            "status",
            "side",
            "size",
            "maxSize",
            "entryPrice",
            "realizedPnl",
            "createdAt",
            "createdAtHeight",
            "sumOpen",
            "sumClose",
            "netFunding",
            "unrealizedPnl",
            "closedAt",
            "exitPrice",
            "assetPositions",
            "symbol",
            "assetId",
            "marginEnabled",
            "updatedAtHeight",
            "latestProcessedBlockHeight",
        ],
    );

    let all = app.get(&format!("/v4/addresses/{owner}?limit=5")).await;
    assert_eq!(all.status, 200);
    assert_eq!(
        all.body,
        json!({"subaccounts": [expected_subaccount(&owner)], "totalTradingRewards": "12.345000000000000000"})
    );

    let parent = app
        .get(&format!("/v4/addresses/{owner}/parentSubaccountNumber/0"))
        .await;
    assert_eq!(parent.status, 200);
    assert_eq!(parent.body["subaccount"]["equity"], "8996.95");
    assert_eq!(parent.body["subaccount"]["parentSubaccountNumber"], 0);
    assert_eq!(
        parent.body["subaccount"]["childSubaccounts"][0],
        expected_subaccount(&owner)
    );
    app.stop().await;
}

#[tokio::test]
async fn subaccount_validation_and_not_found_bodies() {
    let (app, owner, _) = account_app().await;
    let missing = app
        .get(&format!("/v4/addresses/{owner}/subaccountNumber/1"))
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        json!({"errors": [{"msg": format!("No subaccount found with address {owner} and subaccountNumber 1")}]})
    );
    let stranger = address(9);
    let none = app.get(&format!("/v4/addresses/{stranger}")).await;
    assert_eq!(
        none.body,
        json!({"errors": [{"msg": format!("No subaccounts found for address {stranger}")}]})
    );
    let invalid = app
        .get("/v4/addresses/dydx1notbech32/subaccountNumber/128001")
        .await;
    assert_eq!(invalid.status, 400);
    assert_eq!(
        invalid.body,
        json!({"errors": [
            {"value": "dydx1notbech32", "msg": "address must be a valid dydx address", "param": "address", "location": "params"},
            {"value": "128001", "msg": "subaccountNumber must be a non-negative integer less than 128001", "param": "subaccountNumber", "location": "params"}
        ]})
    );
    let invalid = app.get("/v4/addresses/inv@lid").await;
    assert_eq!(
        invalid.body,
        json!({"errors": [{"value": "inv@lid", "msg": "address must be a valid address", "param": "address", "location": "params"}]})
    );
    let parent = app
        .get(&format!("/v4/addresses/{owner}/parentSubaccountNumber/128"))
        .await;
    assert_eq!(
        parent.body["errors"][0]["msg"],
        "parentSubaccountNumber must be a non-negative integer less than 128"
    );
    app.stop().await;
}

#[tokio::test]
async fn blocked_addresses_get_403_with_the_legal_text() {
    let (app, owner, _) = account_app().await;
    Seed {
        pool: app.db.pool(),
    }
    .compliance_status(&owner, "BLOCKED")
    .await;
    let reply = app
        .get(&format!(
            "/v4/assetPositions?address={owner}&subaccountNumber=0"
        ))
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.body,
        json!({"errors": [{
            "code": "COMPLIANCE_BLOCKED",
            "msg": "Because this address appears to be a resident of, or trading from, a jurisdiction that violates our terms of use, or has engaged in activity that violates our terms of use, this address has been blocked."
        }]})
    );
    let invalid_first = app.get("/v4/assetPositions?address=x").await;
    assert_eq!(
        invalid_first.status, 400,
        "validation runs before the compliance check"
    );
    app.stop().await;
}

#[tokio::test]
async fn geoblocking_is_off_by_default_and_pluggable() {
    let db = common::db_with_markets(1..=2).await;
    let seed = Seed { pool: db.pool() };
    let owner = address(3);
    seed.subaccount(&owner, 0, 1).await;
    let app = TestApp::start_with(db, &[("INDEXER_LEVEL_GEOBLOCKING_ENABLED", "true")]).await;
    let path = format!("/v4/assetPositions?address={owner}&subaccountNumber=0");
    let blocked = app.get(&path).await;
    assert_eq!(blocked.status, 403);
    assert_eq!(blocked.body["errors"][0]["code"], "GEOBLOCKED");
    let allowed = app.get_with(&path, &[("geo-origin-status", "ok")]).await;
    assert_eq!(allowed.status, 200);
    let markets = app.get("/v4/perpetualMarkets").await;
    assert_eq!(markets.status, 200, "market data is never geoblocked");
    app.stop().await;
}

#[tokio::test]
async fn asset_and_perpetual_positions() {
    let (app, owner, _) = account_app().await;
    let assets = app
        .get(&format!(
            "/v4/assetPositions?address={owner}&subaccountNumber=0&status=OPEN&limit=3"
        ))
        .await;
    assert_eq!(assets.status, 200);
    assert_eq!(
        assets.body,
        json!({"positions": [{"symbol": "USDC", "side": "LONG", "size": "9997.95", "assetId": "0", "subaccountNumber": 0}]})
    );
    let missing = app
        .get(&format!(
            "/v4/assetPositions?address={owner}&subaccountNumber=2"
        ))
        .await;
    assert_eq!(missing.status, 404);
    let parent = app
        .get(&format!(
            "/v4/assetPositions/parentSubaccountNumber?address={owner}&parentSubaccountNumber=5"
        ))
        .await;
    assert_eq!(
        parent.body,
        json!({"positions": []}),
        "no 404 on the parent route"
    );

    let all = app
        .get(&format!(
            "/v4/perpetualPositions?address={owner}&subaccountNumber=0"
        ))
        .await;
    assert_eq!(all.status, 200);
    let markets: Vec<(&str, &str)> = all.body["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["market"].as_str().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        markets,
        [
            ("ETH-USD", "OPEN"),
            ("BTC-USD", "OPEN"),
            ("BTC-USD", "CLOSED")
        ],
        "newest opened first"
    );
    let closed = app
        .get(&format!(
            "/v4/perpetualPositions?address={owner}&subaccountNumber=0&status=closed"
        ))
        .await;
    let closed = &closed.body["positions"];
    assert_eq!(closed.as_array().unwrap().len(), 1);
    assert_eq!(
        closed[0]["netFunding"], "0",
        "closed positions have no unsettled funding"
    );
    assert_eq!(closed[0]["exitPrice"], "41000.5");
    assert_eq!(closed[0]["closedAt"], "2024-05-01T00:00:03.000Z");
    let open = app
        .get(&format!(
            "/v4/perpetualPositions?address={owner}&subaccountNumber=0&status=OPEN&limit=1"
        ))
        .await;
    assert_eq!(open.body["positions"][0]["netFunding"], "-1.75");
    let bad = app
        .get(&format!(
            "/v4/perpetualPositions?address={owner}&subaccountNumber=0&status=OPEN,BOGUS"
        ))
        .await;
    assert_eq!(
        bad.body,
        json!({"errors": [{"value": "OPEN,BOGUS", "msg": "status must be a valid Position Status (OPEN, etc)", "param": "status", "location": "query"}]})
    );
    app.stop().await;
}

#[tokio::test]
async fn orders_merge_postgres_and_redis_and_sort_by_expiry() {
    let (app, owner, subaccount) = account_app().await;
    let seed = Seed {
        pool: app.db.pool(),
    };
    let expiry = common::seed::at(86_400);
    let long_term = seed
        .order(subaccount, 1, 0, "OPEN", "POST_ONLY", None, Some(expiry), 8)
        .await;
    let short_term = seed
        .order(subaccount, 2, 0, "FILLED", "IOC", Some(20), None, 9)
        .await;
    let resting = place_redis_order(
        app.state.cache(),
        &owner,
        0,
        3,
        1,
        "ETH-USD",
        GoodTilOneof::GoodTilBlock(25),
        "3000.5",
        "0.01",
    )
    .await;

    let reply = app
        .get(&format!("/v4/orders?address={owner}&subaccountNumber=0"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let ids: Vec<&str> = reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            long_term.to_string(),
            resting.to_string(),
            short_term.to_string()
        ],
        "good-til-time first, then good-til-block descending"
    );
    assert_eq!(
        reply.body[0],
        json!({
            "id": long_term.to_string(),
            "subaccountId": subaccount.to_string(),
            "clientId": "1",
            "clobPairId": "0",
            "side": "BUY",
            "size": "0.05",
            "totalFilled": "0",
            "price": "61000",
            "type": "LIMIT",
            "status": "OPEN",
            "timeInForce": "GTT",
            "reduceOnly": false,
            "orderFlags": "64",
            "goodTilBlockTime": "2024-05-02T00:00:00.000Z",
            "createdAtHeight": "8",
            "createdAt": "2024-05-01T00:00:08.000Z",
            "clientMetadata": "0",
            "updatedAt": "2024-05-01T00:00:08.000Z",
            "updatedAtHeight": "8",
            "orderRouterAddress": "",
            "postOnly": true,
            "ticker": "BTC-USD",
            "subaccountNumber": 0
        })
    );
    assert_eq!(
        reply.body[1],
        json!({
            "id": resting.to_string(),
            "subaccountId": subaccount.to_string(),
            "clientId": "3",
            "clobPairId": "1",
            "side": "SELL",
            "size": "0.01",
            "totalFilled": "0",
            "price": "3000.5",
            "type": "LIMIT",
            "status": "BEST_EFFORT_OPENED",
            "timeInForce": "GTT",
            "reduceOnly": false,
            "orderFlags": "0",
            "goodTilBlock": "25",
            "clientMetadata": "7",
            "orderRouterAddress": "",
            "postOnly": true,
            "ticker": "ETH-USD",
            "subaccountNumber": 0
        })
    );

    common::assert_key_order(
        &app.get_text(&format!("/v4/orders?address={owner}&subaccountNumber=0"))
            .await,
        &[
            "id",
            "subaccountId",
            "clientId",
            "clobPairId",
            "side",
            "size",
            "totalFilled",
            "price",
            "type",
            "status",
            "timeInForce",
            "reduceOnly",
            "orderFlags",
            "goodTilBlockTime",
            "createdAtHeight",
            "createdAt",
            "clientMetadata",
            "updatedAt",
            "updatedAtHeight",
            "orderRouterAddress",
            "postOnly",
            "ticker",
            "subaccountNumber",
        ],
    );
    let ascending = app
        .get(&format!(
            "/v4/orders?address={owner}&subaccountNumber=0&returnLatestOrders=False"
        ))
        .await;
    assert_eq!(ascending.body[0]["id"], short_term.to_string());
    let filled = app
        .get(&format!(
            "/v4/orders?address={owner}&subaccountNumber=0&status=FILLED"
        ))
        .await;
    assert_eq!(filled.body.as_array().unwrap().len(), 1);
    let eth = app
        .get(&format!(
            "/v4/orders?address={owner}&subaccountNumber=0&ticker=ETH-USD&side=SELL"
        ))
        .await;
    assert_eq!(eth.body.as_array().unwrap().len(), 1);
    assert_eq!(eth.body[0]["status"], "BEST_EFFORT_OPENED");
    let limited = app
        .get(&format!(
            "/v4/orders?address={owner}&subaccountNumber=0&limit=1"
        ))
        .await;
    assert_eq!(limited.body.as_array().unwrap().len(), 1);
    let empty = app
        .get(&format!(
            "/v4/orders?address={}&subaccountNumber=0",
            address(8)
        ))
        .await;
    assert_eq!(empty.body, json!([]));
    let bad = app
        .get(&format!("/v4/orders?address={owner}&subaccountNumber=0&side=buy&type=FOO&goodTilBlockBeforeOrAt=0"))
        .await;
    assert_eq!(
        bad.body,
        json!({"errors": [
            {"value": "buy", "msg": "side must be one of BUY,SELL", "param": "side", "location": "query"},
            {"value": "FOO", "msg": "type must be one of LIMIT,MARKET,STOP_LIMIT,STOP_MARKET,TRAILING_STOP,TAKE_PROFIT,TAKE_PROFIT_MARKET,TWAP,TWAP_SUBORDER", "param": "type", "location": "query"},
            {"value": "0", "msg": "Invalid value", "param": "goodTilBlockBeforeOrAt", "location": "query"}
        ]})
    );

    let one = app.get(&format!("/v4/orders/{resting}")).await;
    assert_eq!(one.body, reply.body[1]);
    let stored = app.get(&format!("/v4/orders/{short_term}")).await;
    assert_eq!(stored.body["status"], "FILLED");
    assert_eq!(stored.body["timeInForce"], "IOC");
    assert_eq!(stored.body["goodTilBlock"], "20");
    let unknown = Uuid::nil();
    let missing = app.get(&format!("/v4/orders/{unknown}")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        json!({"errors": [{"msg": format!("Unable to find order id {unknown}")}]})
    );
    let invalid = app.get("/v4/orders/not-a-uuid").await;
    assert_eq!(
        invalid.body,
        json!({"errors": [{"value": "not-a-uuid", "msg": "Invalid value", "param": "orderId", "location": "params"}]})
    );
    app.stop().await;
}

#[tokio::test]
async fn fills_page_and_filter_by_market() {
    let (app, owner, subaccount) = account_app().await;
    let seed = Seed {
        pool: app.db.pool(),
    };
    for (height, clob_pair_id, size) in [(7, 0, "0.1"), (8, 1, "2"), (9, 0, "0.2")] {
        let event = seed.event(height, 1, 0).await;
        seed.fill(FillSeed {
            subaccount,
            side: "BUY",
            liquidity: "TAKER",
            fill_type: "LIMIT",
            clob_pair_id,
            size,
            price: "100",
            fee: "-0.01",
            height,
            event,
            order_id: None,
        })
        .await;
    }
    let base = format!("/v4/fills?address={owner}&subaccountNumber=0");
    let reply = app.get(&base).await;
    assert_eq!(reply.status, 200);
    let fills = reply.body["fills"].as_array().unwrap();
    assert_eq!(fills.len(), 3);
    assert_eq!(fills[0]["size"], "0.2");
    let raw = app.get_text(&base).await;
    common::assert_key_order(
        &raw,
        &[
            "id",
            "side",
            "liquidity",
            "type",
            "market",
            "marketType",
            "price",
            "size",
            "fee",
            "affiliateRevShare",
            "createdAt",
            "createdAtHeight",
            "orderId",
            "clientMetadata",
            "subaccountNumber",
        ],
    );
    assert_eq!(fills[0]["fee"], "-0.01");
    assert_eq!(fills[0]["orderId"], json!(null));
    assert_eq!(fills[0]["marketType"], "PERPETUAL");

    let eth = app
        .get(&format!("{base}&market=ETH-USD&marketType=PERPETUAL"))
        .await;
    assert_eq!(eth.body["fills"].as_array().unwrap().len(), 1);
    assert_eq!(eth.body["fills"][0]["market"], "ETH-USD");
    let ignored = app
        .get(&format!("{base}&ticker=ETH-USD&tickerType=PERPETUAL"))
        .await;
    assert_eq!(
        ignored.body["fills"].as_array().unwrap().len(),
        3,
        "ticker is ignored"
    );

    let paged = app.get(&format!("{base}&limit=2&page=2")).await;
    assert_eq!(paged.body["fills"].as_array().unwrap().len(), 1);
    assert_eq!(
        paged.body["fills"][0]["size"], "0.2",
        "paging is oldest first"
    );
    assert_eq!(
        (
            paged.body["pageSize"].clone(),
            paged.body["totalResults"].clone(),
            paged.body["offset"].clone()
        ),
        (json!(2), json!(3), json!(2))
    );

    let lone_type = app.get(&format!("{base}&marketType=PERPETUAL")).await;
    assert_eq!(
        lone_type.body,
        json!({"errors": [{"msg": "market must be provided if marketType is provided", "param": "market", "location": "query"}]})
    );
    let lone_market = app.get(&format!("{base}&market=BTC-USD")).await;
    assert_eq!(
        lone_market.body,
        json!({"errors": [{"msg": "marketType must be provided if market is provided", "param": "marketType", "location": "query"}]})
    );
    let spot = app
        .get(&format!("{base}&market=BTC-USD&marketType=SPOT"))
        .await;
    assert_eq!(spot.status, 404);
    assert_eq!(
        spot.body,
        json!({"errors": [{"msg": "BTC-USD not found in markets of type SPOT"}]})
    );
    let parent = app
        .get(&format!(
            "/v4/fills/parentSubaccountNumber?address={owner}&parentSubaccountNumber=0&limit=1"
        ))
        .await;
    assert_eq!(parent.body["fills"][0]["size"], "0.2");
    app.stop().await;
}

#[tokio::test]
async fn transfers_are_typed_from_the_subaccounts_point_of_view() {
    let (app, owner, subaccount) = account_app().await;
    let seed = Seed {
        pool: app.db.pool(),
    };
    let child = seed.subaccount(&owner, 128, 3).await;
    let other = seed.subaccount(&address(2), 0, 3).await;
    let wallet = address(7);
    seed.wallet(&wallet, "0").await;
    let deposit = seed
        .transfer(
            None,
            Some(subaccount),
            &wallet,
            "5000",
            seed.event(3, 1, 0).await,
            3,
        )
        .await;
    let out = seed
        .transfer(
            Some(subaccount),
            Some(other),
            &wallet,
            "25.5",
            seed.event(4, 1, 0).await,
            4,
        )
        .await;
    seed.transfer(
        Some(subaccount),
        Some(child),
        &wallet,
        "10",
        seed.event(5, 1, 0).await,
        5,
    )
    .await;

    let reply = app
        .get(&format!("/v4/transfers?address={owner}&subaccountNumber=0"))
        .await;
    assert_eq!(reply.status, 200);
    let transfers = reply.body["transfers"].as_array().unwrap();
    assert_eq!(transfers.len(), 3);
    assert_eq!(transfers[1]["id"], out.to_string());
    assert_eq!(
        transfers[1],
        json!({
            "id": out.to_string(),
            "sender": {"address": owner, "subaccountNumber": 0},
            "recipient": {"address": address(2), "subaccountNumber": 0},
            "size": "25.5",
            "createdAt": "2024-05-01T00:00:04.000Z",
            "createdAtHeight": "4",
            "symbol": "USDC",
            "type": "TRANSFER_OUT",
            "transactionHash": "DEADBEEF"
        })
    );
    assert_eq!(transfers[2]["id"], deposit.to_string());
    assert_eq!(transfers[2]["type"], "DEPOSIT");
    assert_eq!(transfers[2]["sender"], json!({"address": wallet}));

    let parent = app
        .get(&format!(
            "/v4/transfers/parentSubaccountNumber?address={owner}&parentSubaccountNumber=0"
        ))
        .await;
    let parent = parent.body["transfers"].as_array().unwrap().clone();
    assert_eq!(parent.len(), 2, "transfers between children are excluded");
    assert_eq!(
        parent[0]["sender"],
        json!({"address": owner, "parentSubaccountNumber": 0})
    );
    assert_eq!(parent[0]["type"], "TRANSFER_OUT");

    let paged = app
        .get(&format!(
            "/v4/transfers?address={owner}&subaccountNumber=0&limit=1&page=3"
        ))
        .await;
    assert_eq!(paged.body["transfers"][0]["id"], deposit.to_string());
    assert_eq!(paged.body["totalResults"], 3);
    let back = seed
        .transfer(
            Some(other),
            Some(subaccount),
            &wallet,
            "5",
            seed.event(6, 1, 0).await,
            6,
        )
        .await;
    let between = app
        .get(&format!(
            "/v4/transfers/between?sourceAddress={owner}&sourceSubaccountNumber=0&recipientAddress={}&recipientSubaccountNumber=0",
            address(2)
        ))
        .await;
    assert_eq!(between.status, 200, "{}", between.body);
    assert_eq!(between.body["totalNetTransfers"], "20.5");
    let subset = between.body["transfersSubset"].as_array().unwrap();
    assert_eq!(subset.len(), 2);
    assert_eq!(subset[0]["id"], back.to_string());
    assert_eq!(subset[0]["type"], "TRANSFER_IN");
    assert_eq!(subset[1]["type"], "TRANSFER_OUT");
    let invalid = app
        .get(&format!(
            "/v4/transfers/between?sourceAddress={owner}&sourceSubaccountNumber=-1"
        ))
        .await;
    assert_eq!(
        invalid.body,
        json!({"errors": [
            {"value": "-1", "msg": "subaccountNumber must be a non-negative integer less than 128001", "param": "sourceSubaccountNumber", "location": "query"},
            {"msg": "address must be a valid dydx address", "param": "recipientAddress", "location": "query"},
            {"msg": "subaccountNumber must be a non-negative integer less than 128001", "param": "recipientSubaccountNumber", "location": "query"}
        ]})
    );
    let missing = app
        .get(&format!("/v4/transfers?address={owner}&subaccountNumber=3"))
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        json!({"errors": [{"msg": format!("No subaccount found with address {owner} and subaccountNumber 3")}]})
    );
    app.stop().await;
}

#[tokio::test]
async fn historical_pnl_is_newest_first_with_bounds() {
    let (app, owner, subaccount) = account_app().await;
    let seed = Seed {
        pool: app.db.pool(),
    };
    for height in [4, 8, 12] {
        seed.pnl_tick(subaccount, height, &format!("{}", 10_000 + height))
            .await;
    }
    let base = format!("/v4/historical-pnl?address={owner}&subaccountNumber=0");
    let reply = app.get(&base).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body["historicalPnl"][0],
        json!({
            "equity": "10012",
            "totalPnl": "9912",
            "netTransfers": "100",
            "createdAt": "2024-05-01T00:00:12.000Z",
            "blockHeight": "12",
            "blockTime": "2024-05-01T00:00:12.000Z"
        })
    );
    let window = app
        .get(&format!(
            "{base}&createdBeforeOrAtHeight=11&createdOnOrAfterHeight=5"
        ))
        .await;
    assert_eq!(window.body["historicalPnl"].as_array().unwrap().len(), 1);
    assert_eq!(window.body["historicalPnl"][0]["blockHeight"], "8");
    let paged = app.get(&format!("{base}&limit=2&page=1")).await;
    assert_eq!(paged.body["totalResults"], 3);
    assert_eq!(paged.body["historicalPnl"].as_array().unwrap().len(), 2);
    let missing = app
        .get(&format!(
            "/v4/historical-pnl?address={owner}&subaccountNumber=1"
        ))
        .await;
    assert_eq!(missing.status, 404);
    let no_address = app.get("/v4/historical-pnl?subaccountNumber=0").await;
    assert_eq!(
        no_address.body,
        json!({"errors": [{"msg": "address must be a valid dydx address", "param": "address", "location": "query"}]})
    );
    let _ = subaccount_uuid(&owner, 0);
    app.stop().await;
}
