//! Market-data routes and the cross-cutting behaviour every route shares, against a real
//! Postgres and Redis.

mod common;

use common::seed::{at, book_level, FillSeed};
use common::{Seed, TestApp};
use indexer_cache::BookSide;
use indexer_testkit::db::TestDb;
use serde_json::json;

async fn app_with_markets() -> TestApp {
    TestApp::start(common::db_with_markets(1..=12).await).await
}

#[tokio::test]
async fn time_is_iso_with_millis_and_a_numeric_epoch() {
    let app = TestApp::start(TestDb::new().await).await;
    let reply = app.get("/v4/time").await;
    assert_eq!(reply.status, 200);
    let iso = reply.body["iso"].as_str().unwrap();
    assert_eq!(iso.len(), "2024-05-01T12:34:56.789Z".len(), "{iso}");
    assert!(iso.ends_with('Z'));
    assert!(reply.body["epoch"].is_number());
    assert_eq!(
        reply.header("cache-control"),
        Some("no-cache, no-store, no-transform")
    );
    app.stop().await;
}

#[tokio::test]
async fn height_is_a_string_and_404_without_blocks() {
    let app = TestApp::start(TestDb::new().await).await;
    let reply = app.get("/v4/height").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body, json!({"errors": [{"msg": "No blocks found"}]}));

    Seed {
        pool: app.db.pool(),
    }
    .blocks(1..=3)
    .await;
    let reply = app.get("/v4/height").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"height": "3", "time": "2024-05-01T00:00:03.000Z"})
    );
    assert_eq!(reply.header("x-indexer-height"), Some("3"));
    assert_eq!(reply.header("cache-control"), None);
    app.stop().await;
}

#[tokio::test]
async fn perpetual_markets_have_the_exact_shape_and_types() {
    let app = app_with_markets().await;
    let reply = app.get("/v4/perpetualMarkets").await;
    assert_eq!(reply.status, 200);
    let btc = json!({
        "clobPairId": "0",
        "ticker": "BTC-USD",
        "status": "ACTIVE",
        "oraclePrice": "50000",
        "priceChange24H": "-512.1",
        "volume24H": "183456789.2431",
        "trades24H": 48231,
        "nextFundingRate": "0.0000125",
        "initialMarginFraction": "0.05",
        "maintenanceMarginFraction": "0.03",
        "openInterest": "1534.2187",
        "atomicResolution": -10,
        "quantumConversionExponent": -9,
        "tickSize": "1",
        "stepSize": "0.0001",
        "stepBaseQuantums": 1000000,
        "subticksPerTick": 100000,
        "marketType": "CROSS",
        "openInterestLowerCap": "0",
        "openInterestUpperCap": "0",
        "baseOpenInterest": "1498.0002",
        "defaultFundingRate1H": "0"
    });
    assert_eq!(reply.body["markets"]["BTC-USD"], btc);
    let eth = &reply.body["markets"]["ETH-USD"];
    assert_eq!(eth["tickSize"], "0.1");
    assert_eq!(eth["stepSize"], "0.001");
    assert_eq!(eth["oraclePrice"], "3000.5");
    assert_eq!(eth["maintenanceMarginFraction"], "0.05");
    let raw = app
        .client
        .get(format!("{}/v4/perpetualMarkets", app.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        raw.find("\"BTC-USD\"").unwrap() < raw.find("\"ETH-USD\"").unwrap(),
        "markets keyed in perpetual id order"
    );
    common::assert_key_order(
        &raw,
        &[
            "clobPairId",
            "ticker",
            "status",
            "oraclePrice",
            "priceChange24H",
            "volume24H",
            "trades24H",
            "nextFundingRate",
            "initialMarginFraction",
            "maintenanceMarginFraction",
            "openInterest",
            "atomicResolution",
            "quantumConversionExponent",
            "tickSize",
            "stepSize",
            "stepBaseQuantums",
            "subticksPerTick",
            "marketType",
            "openInterestLowerCap",
            "openInterestUpperCap",
            "baseOpenInterest",
            "defaultFundingRate1H",
        ],
    );
    assert_eq!(reply.header("cache-control"), Some("public, max-age=1"));
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );

    let one = app.get("/v4/perpetualMarkets?ticker=ETH-USD").await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["markets"].as_object().unwrap().len(), 1);
    let limited = app
        .get("/v4/perpetualMarkets?limit=1&tickerType=PERPETUAL")
        .await;
    assert_eq!(
        limited.body["markets"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["BTC-USD"]
    );
    app.stop().await;
}

#[tokio::test]
async fn perpetual_market_parameter_errors_have_the_reference_bodies() {
    let app = app_with_markets().await;
    let reply = app.get("/v4/perpetualMarkets?ticker=DOGE-USD").await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body,
        json!({"errors": [{
            "value": "DOGE-USD",
            "msg": "ticker must be a valid ticker (BTC-USD, etc)",
            "param": "ticker",
            "location": "query"
        }]})
    );
    let reply = app
        .get("/v4/perpetualMarkets?ticker=BTC-USD&market=ETH-USD")
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body,
        json!({"errors": [{"msg": "Only one of ticker or market may be provided"}]})
    );
    for bad in ["0", "1001", "-1", "1.5", "abc", ""] {
        let reply = app.get(&format!("/v4/perpetualMarkets?limit={bad}")).await;
        assert_eq!(reply.status, 400, "limit={bad}");
        assert_eq!(
            reply.body,
            json!({"errors": [{
                "value": bad,
                "msg": "limit must be a positive integer that is not greater than max: 1000",
                "param": "limit",
                "location": "query"
            }]})
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn orderbook_is_sorted_uncrossed_and_in_human_units() {
    let app = app_with_markets().await;
    let cache = app.state.cache();
    book_level(cache, "BTC-USD", BookSide::Buy, "49990", 12_345_000_000, 10).await;
    book_level(cache, "BTC-USD", BookSide::Buy, "50010", 1_000_000_000, 20).await;
    book_level(cache, "BTC-USD", BookSide::Buy, "49000", 0, 10).await;
    book_level(cache, "BTC-USD", BookSide::Sell, "50000", 5_000_000_000, 10).await;
    book_level(
        cache,
        "BTC-USD",
        BookSide::Sell,
        "50020",
        30_012_000_000,
        10,
    )
    .await;

    let reply = app.get("/v4/orderbooks/perpetualMarket/BTC-USD").await;
    assert_eq!(reply.status, 200);
    // The crossed ask at 50000 is older than the bid at 50010, so the ask goes.
    assert_eq!(
        reply.body,
        json!({
            "bids": [{"price": "50010", "size": "0.1"}, {"price": "49990", "size": "1.2345"}],
            "asks": [{"price": "50020", "size": "3.0012"}]
        })
    );
    let empty = app.get("/v4/orderbooks/perpetualMarket/ETH-USD").await;
    assert_eq!(empty.body, json!({"bids": [], "asks": []}));
    let unknown = app.get("/v4/orderbooks/perpetualMarket/DOGE-USD").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.body,
        json!({"errors": [{"msg": "DOGE-USD not found in markets of type PERPETUAL"}]})
    );
    app.stop().await;
}

#[tokio::test]
async fn trades_are_taker_fills_newest_first_and_oldest_first_when_paged() {
    let db = common::db_with_markets(1..=12).await;
    let seed = Seed { pool: db.pool() };
    let maker = seed.subaccount(&common::address(1), 0, 1).await;
    let taker = seed.subaccount(&common::address(2), 0, 1).await;
    for (height, side, size) in [(5, "BUY", "0.01"), (7, "SELL", "0.02"), (7, "BUY", "0.03")] {
        let index = if size == "0.03" { 2 } else { 1 };
        let event = seed.event(height, 0, index).await;
        for (subaccount, liquidity) in [(maker, "MAKER"), (taker, "TAKER")] {
            seed.fill(FillSeed {
                subaccount,
                side,
                liquidity,
                fill_type: "LIMIT",
                clob_pair_id: 0,
                size,
                price: "50000",
                fee: "0.1",
                height,
                event: event.clone(),
                order_id: None,
            })
            .await;
        }
    }
    let app = TestApp::start(db).await;

    let reply = app.get("/v4/trades/perpetualMarket/BTC-USD").await;
    assert_eq!(reply.status, 200);
    let sizes: Vec<&str> = reply.body["trades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["size"].as_str().unwrap())
        .collect();
    assert_eq!(sizes, ["0.03", "0.02", "0.01"]);
    assert_eq!(
        reply.body["trades"][0],
        json!({
            "id": "000000070000000200000002",
            "side": "BUY",
            "size": "0.03",
            "price": "50000",
            "type": "LIMIT",
            "createdAt": "2024-05-01T00:00:07.000Z",
            "createdAtHeight": "7"
        })
    );
    assert!(reply.body.get("pageSize").is_none());

    let paged = app
        .get("/v4/trades/perpetualMarket/BTC-USD?limit=2&page=1")
        .await;
    assert_eq!(paged.body["pageSize"], 2);
    assert_eq!(paged.body["totalResults"], 3);
    assert_eq!(paged.body["offset"], 0);
    assert_eq!(paged.body["trades"][0]["size"], "0.01");
    let last = app
        .get("/v4/trades/perpetualMarket/BTC-USD?limit=2&page=2")
        .await;
    assert_eq!(last.body["trades"].as_array().unwrap().len(), 1);
    assert_eq!(last.body["offset"], 2);
    let beyond = app
        .get("/v4/trades/perpetualMarket/BTC-USD?limit=2&page=5")
        .await;
    assert_eq!(beyond.body["trades"], json!([]));
    assert_eq!(beyond.body["totalResults"], 3);

    let filtered = app
        .get("/v4/trades/perpetualMarket/BTC-USD?createdBeforeOrAtHeight=6")
        .await;
    assert_eq!(filtered.body["trades"].as_array().unwrap().len(), 1);
    let unfiltered = app
        .get("/v4/trades/perpetualMarket/BTC-USD?createdBeforeOrAtHeight=0")
        .await;
    assert_eq!(
        unfiltered.body["trades"].as_array().unwrap().len(),
        3,
        "0 means no filter"
    );
    let by_time = app
        .get("/v4/trades/perpetualMarket/BTC-USD?createdBeforeOrAt=2024-05-01T00:00:06Z")
        .await;
    assert_eq!(by_time.body["trades"].as_array().unwrap().len(), 1);

    let bad = app
        .get("/v4/trades/perpetualMarket/DOGE-USD?page=0&createdBeforeOrAtHeight=x")
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body,
        json!({"errors": [
            {"value": "DOGE-USD", "msg": "ticker must be a valid ticker (BTC-USD, etc)", "param": "ticker", "location": "params"},
            {"value": "x", "msg": "createdBeforeOrAtHeight must be a non-negative integer", "param": "createdBeforeOrAtHeight", "location": "query"},
            {"value": "0", "msg": "page must be a non-negative integer", "param": "page", "location": "query"}
        ]})
    );
    app.stop().await;
}

#[tokio::test]
async fn candles_filter_by_resolution_and_time_window() {
    let db = common::db_with_markets(1..=2).await;
    let seed = Seed { pool: db.pool() };
    for minute in 0..3 {
        seed.candle(
            "BTC-USD",
            "1MIN",
            at(minute * 60),
            &format!("{}", 100 + minute),
        )
        .await;
    }
    seed.candle("BTC-USD", "1HOUR", at(0), "7").await;
    let app = TestApp::start(db).await;

    let reply = app
        .get("/v4/candles/perpetualMarkets/BTC-USD?resolution=1MIN")
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["candles"].as_array().unwrap().len(), 3);
    assert_eq!(
        reply.body["candles"][0],
        json!({
            "startedAt": "2024-05-01T00:02:00.000Z",
            "ticker": "BTC-USD",
            "resolution": "1MIN",
            "low": "1",
            "high": "2",
            "open": "1.5",
            "close": "102",
            "baseTokenVolume": "10",
            "usdVolume": "15",
            "trades": 3,
            "startingOpenInterest": "100",
            "orderbookMidPriceOpen": null,
            "orderbookMidPriceClose": "1.25"
        })
    );
    let window = app
        .get("/v4/candles/perpetualMarkets/BTC-USD?resolution=1MIN&fromISO=2024-05-01T00:01:00Z&toISO=2024-05-01T00:02:00.000Z")
        .await;
    let closes: Vec<&str> = window.body["candles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["close"].as_str().unwrap())
        .collect();
    assert_eq!(closes, ["101"], "fromISO inclusive, toISO exclusive");

    let missing = app.get("/v4/candles/perpetualMarkets/BTC-USD").await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.body,
        json!({"errors": [{
            "msg": "resolution must be a valid Candle Resolution, one of 1MIN,5MINS,15MINS,30MINS,1HOUR,4HOURS,1DAY",
            "param": "resolution",
            "location": "query"
        }]})
    );
    app.stop().await;
}

#[tokio::test]
async fn historical_funding_is_newest_first_with_filters() {
    let db = common::db_with_markets(1..=12).await;
    let seed = Seed { pool: db.pool() };
    seed.funding(0, 4, "0.0000125", "49000.5", "10").await;
    seed.funding(0, 8, "-0.00001", "50000", "11").await;
    seed.funding(1, 8, "0.00002", "3000", "1").await;
    let app = TestApp::start(db).await;

    let reply = app.get("/v4/historicalFunding/BTC-USD").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"historicalFunding": [
            {"ticker": "BTC-USD", "rate": "-0.00001", "price": "50000", "effectiveAt": "2024-05-01T00:00:08.000Z", "effectiveAtHeight": "8"},
            {"ticker": "BTC-USD", "rate": "0.0000125", "price": "49000.5", "effectiveAt": "2024-05-01T00:00:04.000Z", "effectiveAtHeight": "4"}
        ]})
    );
    assert_eq!(reply.header("cache-control"), Some("public, max-age=10"));
    let older = app
        .get("/v4/historicalFunding/BTC-USD?effectiveBeforeOrAtHeight=5&limit=1")
        .await;
    assert_eq!(older.body["historicalFunding"][0]["effectiveAtHeight"], "4");
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_express_404_body() {
    let app = TestApp::start(TestDb::new().await).await;
    // `/` is the live page (comlink/src/web), not a 404.
    for path in ["/v4/nothing", "/v5/height", "/nothing"] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.body, json!({"error": "Not Found", "errorCode": 404}));
    }
    let response = app
        .client
        .post(format!("{}/v4/height", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, json!({"error": "Not Found", "errorCode": 404}));
    app.stop().await;
}

#[tokio::test]
async fn routes_match_case_insensitively_with_a_trailing_slash() {
    let app = app_with_markets().await;
    let reply = app.get("/V4/Height/").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["height"], "12");
    let market = app.get("/v4/PERPETUALMARKETS/?ticker=BTC-USD").await;
    assert_eq!(market.status, 200);
    assert!(market.body["markets"]["BTC-USD"].is_object());
    app.stop().await;
}

#[tokio::test]
async fn standard_headers_request_id_cors_and_geo_echo() {
    let app = app_with_markets().await;
    let reply = app
        .get_with(
            "/v4/perpetualMarkets",
            &[
                ("x-request-id", "abc-123"),
                ("origin", "https://example.com"),
                ("geo-origin-country", "CH"),
            ],
        )
        .await;
    assert_eq!(reply.header("x-request-id"), Some("abc-123"));
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert_eq!(reply.header("geo-origin-country"), Some("CH"));
    let response_time: f64 = reply.header("x-response-time").unwrap().parse().unwrap();
    assert!(response_time >= 0.0);
    let generated = app.get("/v4/time").await;
    assert_eq!(generated.header("x-request-id").unwrap().len(), 36);

    let preflight = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v4/perpetualMarkets", app.base_url),
        )
        .header("origin", "https://example.com")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"]
            .to_str()
            .unwrap(),
        "*"
    );
    let health = app.get("/health").await;
    assert_eq!(health.body, json!({"ok": true}));
    app.stop().await;
}

#[tokio::test]
async fn min_height_is_served_when_reached_and_503_when_not() {
    let app = app_with_markets().await;
    let reached = app.get("/v4/perpetualMarkets?minHeight=12").await;
    assert_eq!(reached.status, 200);
    assert_eq!(reached.header("x-indexer-height"), Some("12"));
    let by_header = app
        .get_with("/v4/perpetualMarkets", &[("x-min-height", "10")])
        .await;
    assert_eq!(by_header.status, 200);

    let ahead = app.get("/v4/perpetualMarkets?minHeight=13").await;
    assert_eq!(ahead.status, 503);
    assert_eq!(
        ahead.body,
        json!({"errors": [{"msg": "Height 13 is not indexed yet (latest: 12)"}]})
    );

    // The block arrives while the request waits.
    let waiting = {
        let client = app.client.clone();
        let url = format!("{}/v4/perpetualMarkets?minHeight=13", app.base_url);
        tokio::spawn(async move { client.get(url).send().await.unwrap() })
    };
    Seed {
        pool: app.db.pool(),
    }
    .blocks(13..=13)
    .await;
    let response = waiting.await.unwrap();
    assert!(
        matches!(response.status().as_u16(), 200 | 503),
        "either the wait saw block 13 or timed out"
    );
    let after = app.get("/v4/perpetualMarkets?minHeight=13").await;
    assert_eq!(after.status, 200);
    assert_eq!(after.header("x-indexer-height"), Some("13"));

    let invalid = app.get("/v4/perpetualMarkets?minHeight=abc").await;
    assert_eq!(invalid.status, 400);
    assert_eq!(
        invalid.body,
        json!({"errors": [{"value": "abc", "msg": "minHeight must be a non-negative integer", "param": "minHeight", "location": "query"}]})
    );
    let invalid_header = app.get_with("/v4/time", &[("x-min-height", "-1")]).await;
    assert_eq!(invalid_header.status, 200, "time reads no database");
    app.stop().await;
}

#[tokio::test]
async fn rate_limits_count_per_ip_and_reject_with_429() {
    let db = TestDb::new().await;
    Seed { pool: db.pool() }.blocks(1..=1).await;
    let app = TestApp::start_with(
        db,
        &[
            ("RATE_LIMIT_ENABLED", "true"),
            ("RATE_LIMIT_GET_POINTS", "2"),
        ],
    )
    .await;
    let ip = [("x-forwarded-for", "203.0.113.7, 10.0.0.1")];
    let first = app.get_with("/v4/height", &ip).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("ratelimit-limit"), Some("2"));
    assert_eq!(first.header("ratelimit-remaining"), Some("1"));
    let reset: u64 = first.header("ratelimit-reset").unwrap().parse().unwrap();
    assert!(reset > 1_700_000_000_000, "absolute epoch milliseconds");
    assert_eq!(app.get_with("/v4/height", &ip).await.status, 200);
    let limited = app.get_with("/v4/height", &ip).await;
    assert_eq!(limited.status, 429);
    assert_eq!(
        limited.body,
        json!({"errors": [{"msg": "Too many requests"}]})
    );
    assert_eq!(limited.header("ratelimit-remaining"), Some("0"));
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!(retry <= 10_000, "milliseconds until the window resets");
    let other_ip = app
        .get_with("/v4/height", &[("cf-connecting-ip", "198.51.100.1")])
        .await;
    assert_eq!(other_ip.status, 200, "budgets are per IP");
    let unlimited = app
        .get_with("/v4/orders/00000000-0000-0000-0000-000000000000", &ip)
        .await;
    assert_ne!(unlimited.status, 429, "orders by id has no limiter");
    app.stop().await;
}

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let app = TestApp::start(TestDb::new().await).await;
    let reply = app.get("/v4/openapi.json").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["info"]["title"], "Indexer API");
    let paths = reply.body["paths"].as_object().unwrap();
    for route in comlink::app::ROUTES
        .iter()
        // GraphQL publishes its own schema (`/v4/graphql/schema.graphql`), not OpenAPI paths.
        .filter(|r| {
            r.starts_with("/v4/") && **r != "/v4/openapi.json" && !r.starts_with("/v4/graphql")
        })
    {
        assert!(
            paths.contains_key(*route),
            "{route} missing from the OpenAPI document"
        );
    }
    let schemas = reply.body["components"]["schemas"].as_object().unwrap();
    for schema in [
        "PerpetualMarketResponseObject",
        "SubaccountResponseObject",
        "OrderResponseObject",
    ] {
        assert!(schemas.contains_key(schema), "{schema}");
    }
    app.stop().await;
}
