//! The live page in a real browser: the whole stack runs on the simulated chain, headless
//! Chromium opens comlink's `/live` page, and the page shows what a person would look for: an
//! order book with levels on both sides, trades arriving, candles drawn.

mod e2e;

use std::time::{Duration, Instant};

use e2e::cdp::Browser;
use e2e::{Stack, StackOptions};
use serde_json::Value;

const MARKET: &str = "BTC-USD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_shows_the_book_trades_and_candles_of_the_simulated_chain() {
    let stack = Stack::start(StackOptions::default()).await;
    stack.wait_market(MARKET).await;

    let (status, page) = stack.rest("/live").await.expect("GET /live");
    assert_eq!(status, 200);
    assert!(
        page.contains(&stack.ws_url()),
        "the page carries LIVE_PAGE_WS_URL"
    );

    let url = format!("http://{}/live?market={MARKET}", stack.rest_addr());
    let mut browser = Browser::open(&url).await;
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut summary = Value::Null;
    loop {
        summary = browser
            .eval("JSON.stringify(window.live ? window.live.summary() : null)")
            .await
            .as_str()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(summary);
        let count = |key: &str| summary[key].as_u64().unwrap_or(0);
        if count("bidLevels") > 0 && count("askLevels") > 0 && count("tradesReceived") > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed a book with levels and a live trade: {summary}\n\
             height: {:?}\nchromium:\n{}\nvulcan:\n{}",
            stack.processed_height().await,
            browser.stderr(),
            e2e::tail(&stack.output("vulcan"))
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(summary["market"], MARKET);
    assert_eq!(summary["connected"], true);
    assert_eq!(summary["errors"], serde_json::json!([]), "{summary}");

    // What is on screen, not only in the page's state.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rows = browser
        .eval(
            "[document.querySelectorAll('#bids tr').length, \
              document.querySelectorAll('#asks tr').length, \
              document.querySelectorAll('#trades tr').length, \
              document.getElementById('market').value]",
        )
        .await;
    assert!(rows[0].as_u64().unwrap_or(0) > 0, "bid rows: {rows}");
    assert!(rows[1].as_u64().unwrap_or(0) > 0, "ask rows: {rows}");
    assert!(rows[2].as_u64().unwrap_or(0) > 0, "trade rows: {rows}");
    assert_eq!(rows[3], MARKET);
    // Every bid is below every ask once the book is applied in seq order.
    let crossed = browser
        .eval(
            "(() => { const b = [...live.bids.keys()].map(Number), a = [...live.asks.keys()].map(Number); \
               return b.length && a.length ? Math.max(...b) >= Math.min(...a) : false; })()",
        )
        .await;
    assert_eq!(crossed, false, "the page's book is crossed: {summary}");
}
