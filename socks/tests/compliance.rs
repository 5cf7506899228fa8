//! Compliance and geo checks of account snapshots (serve.md §2.6, §5.6): a subscription to the
//! subaccount or parent subaccount of a `BLOCKED` address is answered with the compliance text;
//! with geoblocking on, a connection whose upgrade request is not marked `Geo-Origin-Status: ok`
//! gets the geo text; close-only statuses and whitelisted addresses pass. The connection stays
//! open after a refusal.

mod common;

use common::{Client, TestServer};
use serde_json::json;
use socks::protocol::texts;

const ADDRESS: &str = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art";

async fn set_status(server: &TestServer, address: &str, status: &str) {
    sqlx::query(
        "INSERT INTO compliance_status (address, status, reason) VALUES ($1, $2, 'MANUAL')",
    )
    .bind(address)
    .bind(status)
    .execute(server.db.pool())
    .await
    .unwrap();
}

async fn subscribe_account(client: &mut Client, channel: &str) -> serde_json::Value {
    client
        .subscribe(json!({"type": "subscribe", "channel": channel, "id": format!("{ADDRESS}/0")}))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blocked_address_gets_the_compliance_text_on_both_account_channels() {
    let server = TestServer::start(&[]).await;
    set_status(&server, ADDRESS, "BLOCKED").await;
    let (mut client, connection_id) = Client::connected(&server.url).await;
    for (channel, message_id) in [("v4_subaccounts", 1), ("v4_parent_subaccounts", 2)] {
        let answer = subscribe_account(&mut client, channel).await;
        assert_eq!(
            answer,
            json!({
                "type": "error",
                "message": texts::COMPLIANCE_BLOCKED,
                "connection_id": connection_id,
                "message_id": message_id,
                "channel": channel,
                "id": format!("{ADDRESS}/0"),
            })
        );
    }
    // Market data is not an account route, and the connection is still usable.
    let markets = client
        .subscribe(json!({"type": "subscribe", "channel": "v4_markets"}))
        .await;
    assert_eq!(markets["type"], "subscribed");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn close_only_and_whitelisted_addresses_get_their_snapshot() {
    let other = "dydx1fwwq8v4gw9rwgswsh8lksr0xe8x0v6yqzk4eur";
    let server = TestServer::start(&[("WHITELISTED_ADDRESSES", ADDRESS)]).await;
    set_status(&server, ADDRESS, "BLOCKED").await;
    set_status(&server, other, "CLOSE_ONLY").await;
    let (mut client, _) = Client::connected(&server.url).await;
    let whitelisted = subscribe_account(&mut client, "v4_subaccounts").await;
    assert_eq!(whitelisted["type"], "subscribed", "{whitelisted}");
    let close_only = client
        .subscribe(
            json!({"type": "subscribe", "channel": "v4_subaccounts", "id": format!("{other}/0")}),
        )
        .await;
    assert_eq!(close_only["type"], "subscribed", "{close_only}");
    assert_eq!(
        close_only["contents"],
        json!({}),
        "no such subaccount: {{}}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_geoblocking_on_only_connections_marked_ok_by_the_edge_get_account_snapshots() {
    let server = TestServer::start(&[("INDEXER_LEVEL_GEOBLOCKING_ENABLED", "true")]).await;
    let mut unmarked = Client::connect(&server.url).await;
    unmarked.next_json().await;
    let refused = subscribe_account(&mut unmarked, "v4_subaccounts").await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["message"], texts::GEOBLOCKED);

    let mut restricted =
        Client::connect_with_headers(&server.url, &[("geo-origin-status", "restricted")]).await;
    restricted.next_json().await;
    let refused = subscribe_account(&mut restricted, "v4_parent_subaccounts").await;
    assert_eq!(refused["message"], texts::GEOBLOCKED);
    let book = restricted
        .subscribe(json!({"type": "subscribe", "channel": "v4_orderbook", "id": "BTC-USD"}))
        .await;
    assert_eq!(book["type"], "subscribed", "market data is not geo-checked");

    let mut marked = Client::connect_with_headers(
        &server.url,
        &[("geo-origin-status", "ok"), ("geo-origin-country", "CH")],
    )
    .await;
    marked.next_json().await;
    let allowed = subscribe_account(&mut marked, "v4_subaccounts").await;
    assert_eq!(allowed["type"], "subscribed", "{allowed}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn geoblocking_is_off_by_default() {
    let server = TestServer::start(&[]).await;
    let (mut client, _) = Client::connected(&server.url).await;
    let answer = subscribe_account(&mut client, "v4_subaccounts").await;
    assert_eq!(answer["type"], "subscribed", "{answer}");
    server.stop().await;
}
