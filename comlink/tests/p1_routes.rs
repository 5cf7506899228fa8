//! P1 routes: sparklines, aggregated PnL, funding payments, trading rewards, trader search,
//! affiliate reads and the parent historical PnL.

mod common;

use chrono::{Duration, DurationRound, Utc};
use common::seed::{at, FillSeed};
use common::{address, Seed, TestApp};
use indexer_testkit::db::TestDb;
use serde_json::json;
use uuid::Uuid;

/// Markets, blocks 1…12 and subaccounts 0 and 128 of address 1.
async fn setup() -> (TestDb, String, Uuid, Uuid) {
    let db = common::db_with_markets(1..=12).await;
    let seed = Seed { pool: db.pool() };
    let owner = address(1);
    let main = seed.subaccount(&owner, 0, 1).await;
    let child = seed.subaccount(&owner, 128, 1).await;
    seed.wallet(&owner, "1.5").await;
    (db, owner, main, child)
}

#[tokio::test]
async fn sparklines_list_every_market_newest_close_first() {
    let (db, ..) = setup().await;
    let seed = Seed { pool: db.pool() };
    let hour = Utc::now().duration_trunc(Duration::hours(1)).unwrap();
    seed.candle("BTC-USD", "1HOUR", hour - Duration::hours(2), "101")
        .await;
    seed.candle("BTC-USD", "1HOUR", hour - Duration::hours(1), "102")
        .await;
    seed.candle("BTC-USD", "1HOUR", hour - Duration::hours(30), "90")
        .await;
    seed.candle("BTC-USD", "4HOURS", hour - Duration::hours(4), "99")
        .await;
    let app = TestApp::start(db).await;

    let reply = app.get("/v4/sparklines?timePeriod=ONE_DAY").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"BTC-USD": ["102", "101"], "ETH-USD": []})
    );
    let week = app.get("/v4/sparklines?timePeriod=SEVEN_DAYS").await;
    assert_eq!(week.body, json!({"BTC-USD": ["99"], "ETH-USD": []}));
    assert_eq!(reply.header("cache-control"), Some("public, max-age=10"));
    let bad = app.get("/v4/sparklines?timePeriod=ONE_YEAR").await;
    assert_eq!(
        bad.body,
        json!({"errors": [{"value": "ONE_YEAR", "msg": "timePeriod must be a valid Time Period, one of ONE_DAY,SEVEN_DAYS", "param": "timePeriod", "location": "query"}]})
    );
    app.stop().await;
}

#[tokio::test]
async fn pnl_sums_per_hour_or_per_day_and_over_children() {
    let (db, owner, main, child) = setup().await;
    let seed = Seed { pool: db.pool() };
    seed.pnl_row(main, at(0), 1, "100").await;
    seed.pnl_row(main, at(1800), 5, "110").await;
    seed.pnl_row(main, at(3600), 9, "120.50").await;
    seed.pnl_row(child, at(0), 1, "50").await;
    let app = TestApp::start(db).await;

    let base = format!("/v4/pnl?address={owner}&subaccountNumber=0");
    let hourly = app.get(&base).await;
    assert_eq!(hourly.status, 200, "{}", hourly.body);
    assert_eq!(
        hourly.body,
        json!({"pnl": [
            {"equity": "120.50", "netTransfers": "100", "totalPnl": "20.50", "createdAt": "2024-05-01T01:00:00.000Z", "createdAtHeight": "9"},
            {"equity": "210", "netTransfers": "200", "totalPnl": "10", "createdAt": "2024-05-01T00:00:00.000Z", "createdAtHeight": "5"}
        ]})
    );
    let daily = app.get(&format!("{base}&daily=true")).await;
    assert_eq!(
        daily.body,
        json!({"pnl": [{"equity": "100", "netTransfers": "100", "totalPnl": "0", "createdAt": "2024-05-01T00:00:00.000Z", "createdAtHeight": "1"}]})
    );
    let paged = app.get(&format!("{base}&limit=1&page=2")).await;
    assert_eq!(paged.body["pnl"][0]["createdAtHeight"], "5");
    assert_eq!(paged.body["totalResults"], 2);
    let parent = app
        .get(&format!(
            "/v4/pnl/parentSubaccountNumber?address={owner}&parentSubaccountNumber=0"
        ))
        .await;
    assert_eq!(parent.body["pnl"][1]["equity"], "260");
    assert!(parent.body.get("totalResults").is_none());
    let missing = app
        .get(&format!("/v4/pnl?address={owner}&subaccountNumber=7"))
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        json!({"errors": [{"msg": format!("No subaccount found with address {owner} and subaccountNumber 7")}]})
    );
    app.stop().await;
}

#[tokio::test]
async fn funding_payments_skip_zero_payments_unless_asked() {
    let (db, owner, main, child) = setup().await;
    let seed = Seed { pool: db.pool() };
    seed.funding_payment(main, 0, 4, "-0.08015").await;
    seed.funding_payment(main, 0, 8, "0").await;
    seed.funding_payment(main, 1, 8, "0.5").await;
    seed.funding_payment(child, 1, 9, "1").await;
    let app = TestApp::start(db).await;

    let base = format!("/v4/fundingPayments?address={owner}&subaccountNumber=0");
    let reply = app.get(&base).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"fundingPayments": [
            {"createdAt": "2024-05-01T00:00:08.000Z", "createdAtHeight": "8", "perpetualId": "1", "ticker": "ETH-USD",
             "oraclePrice": "50000", "size": "0.1", "side": "LONG", "rate": "0.0000125", "payment": "0.5",
             "subaccountNumber": "0", "fundingIndex": "1234.567"},
            {"createdAt": "2024-05-01T00:00:04.000Z", "createdAtHeight": "4", "perpetualId": "0", "ticker": "BTC-USD",
             "oraclePrice": "50000", "size": "0.1", "side": "LONG", "rate": "0.0000125", "payment": "-0.08015",
             "subaccountNumber": "0", "fundingIndex": "1234.567"}
        ]})
    );
    let all = app.get(&format!("{base}&showZeroPayments=true")).await;
    assert_eq!(all.body["fundingPayments"].as_array().unwrap().len(), 3);
    let alias = app.get(&format!("{base}&zeroPayments=True")).await;
    assert_eq!(alias.body["fundingPayments"].as_array().unwrap().len(), 3);
    let not_shown = app.get(&format!("{base}&showZeroPayments=false")).await;
    assert_eq!(
        not_shown.body["fundingPayments"].as_array().unwrap().len(),
        2
    );
    let btc = app.get(&format!("{base}&ticker=BTC-USD")).await;
    assert_eq!(btc.body["fundingPayments"].as_array().unwrap().len(), 1);
    let recent = app
        .get(&format!("{base}&afterOrAt=2024-05-01T00:00:05Z"))
        .await;
    assert_eq!(recent.body["fundingPayments"].as_array().unwrap().len(), 1);
    let paged = app.get(&format!("{base}&page=1&limit=1")).await;
    assert_eq!(paged.body["totalResults"], 2);
    let parent = app
        .get(&format!(
            "/v4/fundingPayments/parentSubaccount?address={owner}&parentSubaccountNumber=0"
        ))
        .await;
    let numbers: Vec<&str> = parent.body["fundingPayments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["subaccountNumber"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["128", "0", "0"]);
    let bad = app.get(&format!("{base}&showZeroPayments=maybe")).await;
    assert_eq!(
        bad.body,
        json!({"errors": [{"value": "maybe", "msg": "Invalid value", "param": "showZeroPayments", "location": "query"}]})
    );
    app.stop().await;
}

#[tokio::test]
async fn trading_rewards_per_block_and_per_period() {
    let (db, owner, ..) = setup().await;
    let seed = Seed { pool: db.pool() };
    seed.trading_reward(&owner, 3, "0.0123").await;
    seed.trading_reward(&owner, 7, "1.5").await;
    seed.reward_aggregation(&owner, "DAILY", 1, Some(6), "0.0123")
        .await;
    seed.reward_aggregation(&owner, "DAILY", 6, None, "1.5")
        .await;
    let app = TestApp::start(db).await;

    let blocks = app
        .get(&format!(
            "/v4/historicalBlockTradingRewards/{owner}?startingBeforeOrAtHeight=6"
        ))
        .await;
    assert_eq!(blocks.status, 200);
    assert_eq!(
        blocks.body,
        json!({"rewards": [{"tradingReward": "0.012300000000000000", "createdAt": "2024-05-01T00:00:03.000Z", "createdAtHeight": "3"}]})
    );
    let periods = app
        .get(&format!(
            "/v4/historicalTradingRewardAggregations/{owner}?period=DAILY"
        ))
        .await;
    assert_eq!(
        periods.body,
        json!({"rewards": [
            {"tradingReward": "1.500000000000000000", "startedAt": "2024-05-01T00:00:06.000Z", "startedAtHeight": "6", "period": "DAILY"},
            {"tradingReward": "0.012300000000000000", "startedAt": "2024-05-01T00:00:01.000Z", "startedAtHeight": "1",
             "endedAt": "2024-05-01T00:00:06.000Z", "endedAtHeight": "6", "period": "DAILY"}
        ]})
    );
    let missing = app
        .get(&format!("/v4/historicalTradingRewardAggregations/{owner}"))
        .await;
    assert_eq!(
        missing.body,
        json!({"errors": [{"msg": "period must be a valid Trading Reward Aggregation Period, one of DAILY,WEEKLY,MONTHLY", "param": "period", "location": "query"}]})
    );
    app.stop().await;
}

#[tokio::test]
async fn trader_search_and_affiliate_reads() {
    let (db, owner, main, _) = setup().await;
    let seed = Seed { pool: db.pool() };
    seed.username(main, "GreenTiger42").await;
    seed.wallet_volume(&owner, "12000.5").await;
    seed.referral(&owner, &address(5)).await;
    let poor = address(6);
    seed.wallet(&poor, "0").await;
    let poor_main = seed.subaccount(&poor, 0, 1).await;
    seed.username(poor_main, "BluePanda").await;
    let app = TestApp::start(db).await;

    let expected = json!({"result": {"address": owner, "subaccountNumber": 0, "subaccountId": main.to_string(), "username": "GreenTiger42"}});
    assert_eq!(
        app.get(&format!("/v4/trader/search?searchParam={owner}"))
            .await
            .body,
        expected
    );
    assert_eq!(
        app.get("/v4/trader/search?searchParam=GreenTiger42")
            .await
            .body,
        expected
    );
    let unknown = app.get("/v4/trader/search?searchParam=nobody").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.body,
        json!({"errors": [{"msg": "Subaccount not found:nobody"}]})
    );
    let missing = app.get("/v4/trader/search").await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.body,
        json!({"errors": [{"msg": "searchParam is required"}]})
    );

    let metadata = app
        .get(&format!("/v4/affiliates/metadata?address={owner}"))
        .await;
    assert_eq!(
        metadata.body,
        json!({"referralCode": "GreenTiger42", "isVolumeEligible": true, "isAffiliate": true})
    );
    assert_eq!(metadata.header("cache-control"), Some("no-cache"));
    let small = app
        .get(&format!("/v4/affiliates/metadata?address={poor}"))
        .await;
    assert_eq!(
        small.body,
        json!({"referralCode": "BluePanda", "isVolumeEligible": false, "isAffiliate": false})
    );
    let stranger = address(9);
    let none = app
        .get(&format!("/v4/affiliates/metadata?address={stranger}"))
        .await;
    assert_eq!(none.status, 404);
    assert_eq!(
        none.body,
        json!({"errors": [{"msg": format!("Wallet with address {stranger} not found")}]})
    );
    assert_eq!(
        app.get("/v4/affiliates/address?referralCode=GreenTiger42")
            .await
            .body,
        json!({"address": owner})
    );
    assert_eq!(
        app.get("/v4/affiliates/address?referralCode=Nope")
            .await
            .body,
        json!({"errors": [{"msg": "Referral code Nope does not exist"}]})
    );
    assert_eq!(
        app.get(&format!("/v4/affiliates/total_volume?address={owner}"))
            .await
            .body,
        json!({"totalVolume": 12000.5})
    );
    app.stop().await;
}

#[tokio::test]
async fn parent_historical_pnl_sums_the_latest_tick_of_each_child_per_hour() {
    let (db, owner, main, child) = setup().await;
    let seed = Seed { pool: db.pool() };
    for height in [4, 8, 12] {
        seed.pnl_tick(main, height, &format!("{}", 10_000 + height))
            .await;
    }
    seed.pnl_tick(child, 10, "500").await;
    let app = TestApp::start(db).await;

    let reply = app
        .get(&format!(
            "/v4/historical-pnl/parentSubaccountNumber?address={owner}&parentSubaccountNumber=0"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!({"historicalPnl": [{
            "equity": "10512", "totalPnl": "10312", "netTransfers": "200",
            "createdAt": "2024-05-01T00:00:12.000Z", "blockHeight": "12", "blockTime": "2024-05-01T00:00:12.000Z"
        }]})
    );
    let none = app
        .get(&format!(
            "/v4/historical-pnl/parentSubaccountNumber?address={owner}&parentSubaccountNumber=3"
        ))
        .await;
    assert_eq!(none.status, 404);
    assert_eq!(
        none.body,
        json!({"errors": [{"msg": format!("No subaccounts found with address {owner} and parentSubaccountNumber 3")}]})
    );
    app.stop().await;
}

#[tokio::test]
async fn trade_history_rebuilds_position_lifecycles_from_fills() {
    let (db, owner, main, _) = setup().await;
    let seed = Seed { pool: db.pool() };
    let first = seed
        .order(main, 1, 0, "FILLED", "GTT", Some(10), None, 3)
        .await;
    let second = seed
        .order(main, 2, 0, "FILLED", "IOC", Some(10), None, 5)
        .await;
    for (order, side, size, price, fee, height) in [
        (first, "BUY", "5", "100", "0.5", 3),
        (second, "SELL", "10", "120", "1", 5),
    ] {
        let event = seed.event(height, 0, 1).await;
        seed.fill(FillSeed {
            subaccount: main,
            side,
            liquidity: "TAKER",
            fill_type: "LIMIT",
            clob_pair_id: 0,
            size,
            price,
            fee,
            height,
            event,
            order_id: Some(order),
        })
        .await;
    }
    let app = TestApp::start(db).await;

    let base = format!("/v4/tradeHistory?address={owner}&subaccountNumber=0");
    let reply = app.get(&base).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let ids: Vec<&str> = reply.body["tradeHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            format!("{second}:5:open"),
            format!("{second}:5:close"),
            format!("{first}:3")
        ]
    );
    assert_eq!(
        (
            reply.body["pageSize"].clone(),
            reply.body["totalResults"].clone(),
            reply.body["offset"].clone()
        ),
        (json!(1000), json!(3), json!(0))
    );
    assert_eq!(
        reply.body["tradeHistory"][1],
        json!({
            "id": format!("{second}:5:close"), "subaccountNumber": 0, "action": "CLOSE",
            "executionPrice": "120", "entryPrice": "100", "side": "SELL", "positionSide": null,
            "prevSize": "5", "additionalSize": "-5", "value": "600", "orderType": "LIMIT",
            "netFee": "1", "netRealizedPnl": "100", "netRealizedPnlPercent": "0.2",
            "time": "2024-05-01T00:00:05.000Z", "orderId": second.to_string(),
            "marketId": "BTC-USD", "marginMode": "CROSS"
        })
    );
    common::assert_key_order(
        &app.get_text(&base).await,
        &[
            "id",
            "subaccountNumber",
            "action",
            "executionPrice",
            "entryPrice",
            "side",
            "positionSide",
            "prevSize",
            "additionalSize",
            "value",
            "orderType",
            "netFee",
            "netRealizedPnl",
            "netRealizedPnlPercent",
            "time",
            "orderId",
            "marketId",
            "marginMode",
        ],
    );
    let paged = app.get(&format!("{base}&limit=1&page=2")).await;
    assert_eq!(
        paged.body["tradeHistory"][0]["id"],
        format!("{second}:5:close")
    );
    assert_eq!(paged.body["offset"], 1);
    let eth = app
        .get(&format!("{base}&market=ETH-USD&marketType=PERPETUAL"))
        .await;
    assert_eq!(eth.body["tradeHistory"], json!([]));
    let parent = app
        .get(&format!(
            "/v4/tradeHistory/parentSubaccountNumber?address={owner}&parentSubaccountNumber=0"
        ))
        .await;
    assert_eq!(parent.body["totalResults"], 3);
    app.stop().await;
}

#[tokio::test]
async fn screening_reports_stored_verdicts_and_records_a_status() {
    let (db, owner, ..) = setup().await;
    let seed = Seed { pool: db.pool() };
    seed.compliance_data(&owner, true).await;
    seed.compliance_data("0xabc", true).await;
    let app = TestApp::start(db).await;

    let text = "Because this address appears to be a resident of, or trading from, a jurisdiction that violates our terms of use, or has engaged in activity that violates our terms of use, this address has been blocked.";
    assert_eq!(
        app.get(&format!("/v4/screen?address={owner}")).await.body,
        json!({"restricted": true, "reason": text})
    );
    assert_eq!(
        app.get("/v4/screen?address=someone").await.body,
        json!({"restricted": false})
    );
    assert_eq!(
        app.get("/v4/screen").await.body,
        json!({"errors": [{"msg": "Invalid value", "param": "address", "location": "query"}]})
    );

    let clean = address(4);
    assert_eq!(
        app.get(&format!("/v4/compliance/screen/{clean}"))
            .await
            .body,
        json!({"status": "COMPLIANT"})
    );
    assert_eq!(
        app.get("/v4/compliance/screen/0xabc").await.body,
        json!({"status": "BLOCKED", "reason": "COMPLIANCE_PROVIDER"})
    );
    let blocked = app.get(&format!("/v4/compliance/screen/{owner}")).await;
    assert_eq!(blocked.body["status"], "BLOCKED");
    assert_eq!(blocked.body["reason"], "COMPLIANCE_PROVIDER");
    assert!(blocked.body["updatedAt"].as_str().unwrap().ends_with('Z'));
    let account = app
        .get(&format!(
            "/v4/assetPositions?address={owner}&subaccountNumber=0"
        ))
        .await;
    assert_eq!(
        account.status, 403,
        "the recorded status blocks account routes"
    );
    app.stop().await;
}
