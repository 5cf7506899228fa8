//! `/v4/openapi.json` describes the vault, affiliate-snapshot and signed P2 routes with schemas
//! that resolve (schemathesis checks responses against them).

mod common;

use common::TestApp;
use serde_json::Value;

/// Every `$ref` inside `value`.
fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target);
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_lists_the_routes_and_every_reference_resolves() {
    let db = common::db_with_markets(1..=2).await;
    let app = TestApp::start(db).await;
    let doc = app.get("/v4/openapi.json").await.body;
    for (path, method) in [
        ("/v4/vault/v1/megavault/historicalPnl", "get"),
        ("/v4/vault/v1/vaults/historicalPnl", "get"),
        ("/v4/vault/v1/megavault/positions", "get"),
        ("/v4/affiliates/snapshot", "get"),
        ("/v4/compliance/geoblock", "post"),
        ("/v4/compliance/geoblock-keplr", "post"),
        ("/v4/compliance/setStatus", "post"),
        ("/v4/affiliates/referralCode", "post"),
        ("/v4/affiliates/referralCode-keplr", "post"),
    ] {
        let operation = &doc["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} missing");
        assert!(
            operation["responses"]["200"].is_object(),
            "{method} {path} has no 200 response"
        );
    }
    let schemas = &doc["components"]["schemas"];
    let mut found = Vec::new();
    refs(&doc, &mut found);
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {target}"));
        assert!(schemas[name].is_object(), "{target} does not resolve");
    }
    let megavault = &schemas["MegavaultHistoricalPnlResponse"]["properties"];
    assert!(megavault["megavaultPnl"].is_object());
    let position = &schemas["VaultPosition"];
    let required: Vec<&str> = position["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["ticker", "equity"]);
    app.stop().await;
}
