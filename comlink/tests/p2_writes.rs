//! The affiliate snapshot and the wallet-signed P2 POSTs (serve.md §4.4.3, §4.4.4, §4.6) against
//! a real database: geoblock (direct and Keplr signatures), setStatus, referral codes.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Utc;
use common::{address, Reply, Seed, TestApp};
use indexer_domain::ids::subaccount_uuid;
use k256::ecdsa::signature::Signer;
use k256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use sqlx::PgPool;

/// A wallet: its key, dYdX address and base64 public key.
struct Wallet {
    key: SigningKey,
    address: String,
    pubkey: String,
}

impl Wallet {
    fn new(seed: u8) -> Self {
        let key = SigningKey::from_bytes(&[seed; 32].into()).unwrap();
        let address = cosmrs::crypto::PublicKey::from(key.verifying_key())
            .account_id("dydx")
            .unwrap()
            .to_string();
        let pubkey = STANDARD.encode(key.verifying_key().to_encoded_point(true).as_bytes());
        Self {
            key,
            address,
            pubkey,
        }
    }

    fn sign(&self, text: &str) -> String {
        let signature: Signature = self.key.sign(text.as_bytes());
        STANDARD.encode(signature.to_bytes())
    }

    /// The direct signature of `message:action"status:timestamp`.
    fn sign_direct(&self, message: &str, action: &str, timestamp: i64) -> String {
        self.sign(&format!("{message}:{action}\":{timestamp}"))
    }

    /// Keplr's ADR-036 signature over `message`.
    fn sign_keplr(&self, message: &str) -> String {
        let doc = format!(
            r#"{{"account_number":"0","chain_id":"","fee":{{"amount":[],"gas":"0"}},"memo":"","msgs":[{{"type":"sign/MsgSignData","value":{{"data":"{}","signer":"{}"}}}}],"sequence":"0"}}"#,
            STANDARD.encode(message),
            self.address
        );
        self.sign(&doc)
    }

    fn geoblock_body(&self, timestamp: i64) -> Value {
        json!({
            "address": self.address, "message": "I agree", "action": "CONNECT",
            "signedMessage": self.sign_direct("I agree", "CONNECT", timestamp),
            "pubkey": self.pubkey, "timestamp": timestamp,
        })
    }
}

async fn post(app: &TestApp, path: &str, body: &Value, headers: &[(&str, &str)]) -> Reply {
    let mut request = app
        .client
        .post(format!("{}{}", app.base_url, path))
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
    Reply {
        status,
        headers,
        body,
    }
}

fn message(text: &str) -> Value {
    json!({"errors": [{"msg": text}]})
}

async fn stored_status(pool: &PgPool, address: &str) -> Option<(String, Option<String>)> {
    sqlx::query_as("SELECT status, reason FROM compliance_status WHERE address = $1")
        .bind(address)
        .fetch_optional(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_geoblock_check_records_a_compliant_address_once() {
    let db = common::db_with_markets(1..=3).await;
    let pool = db.pool().clone();
    let app = TestApp::start(db).await;
    let wallet = Wallet::new(3);
    let now = Utc::now().timestamp();

    let reply = post(
        &app,
        "/v4/compliance/geoblock",
        &wallet.geoblock_body(now),
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "COMPLIANT");
    assert_eq!(reply.body["reason"], Value::Null);
    assert!(reply.body["updatedAt"].is_string());
    assert_eq!(
        stored_status(&pool, &wallet.address).await,
        Some(("COMPLIANT".to_owned(), None))
    );

    // An existing row is reported, not overwritten.
    sqlx::query("UPDATE compliance_status SET status = 'CLOSE_ONLY', reason = 'US_GEO'")
        .execute(&pool)
        .await
        .unwrap();
    let again = post(
        &app,
        "/v4/compliance/geoblock",
        &wallet.geoblock_body(now),
        &[],
    )
    .await;
    assert_eq!(again.body["status"], "CLOSE_ONLY");
    assert_eq!(again.body["reason"], "US_GEO");

    // Keplr's ADR-036 signature over the message.
    let keplr = Wallet::new(4);
    let body = json!({"address": keplr.address, "message": "I agree", "action": "CONNECT",
                      "signedMessage": keplr.sign_keplr("I agree"), "pubkey": keplr.pubkey});
    let reply = post(&app, "/v4/compliance/geoblock-keplr", &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "COMPLIANT");
    let mut forged = body.clone();
    forged["message"] = json!("something else");
    let refused = post(&app, "/v4/compliance/geoblock-keplr", &forged, &[]).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body, message("Keplr signature verification failed"));
    app.stop().await;
}

#[tokio::test]
async fn geoblock_signatures_are_checked_in_the_reference_order() {
    let db = common::db_with_markets(1..=3).await;
    let pool = db.pool().clone();
    let app = TestApp::start(db).await;
    let wallet = Wallet::new(5);
    let other = Wallet::new(6);
    let now = Utc::now().timestamp();

    let mut not_dydx = wallet.geoblock_body(now);
    not_dydx["address"] = json!("cosmos1abcdef");
    let mut wrong_key = wallet.geoblock_body(now);
    wrong_key["pubkey"] = json!(other.pubkey);
    let stale = wallet.geoblock_body(now - 31);
    let mut wrong_action = wallet.geoblock_body(now);
    wrong_action["action"] = json!("VALID_SURVEY");
    for (body, expected) in [
        (
            not_dydx,
            "Address cosmos1abcdef is not a valid dYdX V4 address".to_owned(),
        ),
        (
            wrong_key,
            format!(
                "Address {} does not correspond to the pubkey provided {}",
                wallet.address, other.pubkey
            ),
        ),
        (
            stale,
            "Timestamp is not within the valid range of 30 seconds".to_owned(),
        ),
        (wrong_action, "Signature verification failed".to_owned()),
    ] {
        let reply = post(&app, "/v4/compliance/geoblock", &body, &[]).await;
        assert_eq!(reply.status, 400, "{expected}");
        assert_eq!(reply.body, message(&expected));
    }
    let missing = post(
        &app,
        "/v4/compliance/geoblock",
        &json!({"address": "dydx1x"}),
        &[],
    )
    .await;
    assert_eq!(missing.status, 400);
    let params: Vec<&str> = missing.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["param"].as_str().unwrap())
        .collect();
    assert_eq!(
        params,
        ["message", "action", "signedMessage", "pubkey", "timestamp"]
    );
    assert_eq!(missing.body["errors"][0]["location"], "body");
    assert_eq!(stored_status(&pool, &wallet.address).await, None);
    app.stop().await;
}

#[tokio::test]
async fn with_geoblocking_on_a_restricted_origin_is_refused_unless_whitelisted() {
    let db = common::db_with_markets(1..=3).await;
    let wallet = Wallet::new(7);
    let whitelisted = Wallet::new(8);
    let app = TestApp::start_with(
        db,
        &[
            ("INDEXER_LEVEL_GEOBLOCKING_ENABLED", "true"),
            ("WHITELISTED_ADDRESSES", &whitelisted.address),
        ],
    )
    .await;
    let now = Utc::now().timestamp();
    let refused = post(
        &app,
        "/v4/compliance/geoblock",
        &wallet.geoblock_body(now),
        &[],
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["errors"][0]["code"], "GEOBLOCKED");
    let allowed = post(
        &app,
        "/v4/compliance/geoblock",
        &wallet.geoblock_body(now),
        &[("geo-origin-status", "ok")],
    )
    .await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    let white = post(
        &app,
        "/v4/compliance/geoblock",
        &whitelisted.geoblock_body(now),
        &[],
    )
    .await;
    assert_eq!(white.status, 200);
    assert_eq!(white.body["status"], "COMPLIANT");
    assert!(white.body.get("reason").is_none());
    app.stop().await;
}

#[tokio::test]
async fn set_status_exists_only_when_exposed() {
    let db = common::db_with_markets(1..=3).await;
    let app = TestApp::start(db).await;
    let body = json!({"address": address(9), "status": "BLOCKED", "reason": "MANUAL"});
    let hidden = post(&app, "/v4/compliance/setStatus", &body, &[]).await;
    assert_eq!(hidden.status, 404);
    assert_eq!(hidden.body, json!({"error": "Not Found", "errorCode": 404}));
    app.stop().await;

    let db = common::db_with_markets(1..=3).await;
    let pool = db.pool().clone();
    let app = TestApp::start_with(db, &[("EXPOSE_SET_COMPLIANCE_ENDPOINT", "true")]).await;
    let reply = post(&app, "/v4/compliance/setStatus", &body, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, json!({"status": "BLOCKED", "reason": "MANUAL"}));
    assert_eq!(
        stored_status(&pool, &address(9)).await,
        Some(("BLOCKED".to_owned(), Some("MANUAL".to_owned())))
    );
    // The account routes now refuse the address.
    let blocked = app.get(&format!("/v4/addresses/{}", address(9))).await;
    assert_eq!(blocked.status, 403);
    let lifted = post(
        &app,
        "/v4/compliance/setStatus",
        &json!({"address": address(9), "status": "COMPLIANT"}),
        &[],
    )
    .await;
    assert_eq!(lifted.body, json!({"status": "COMPLIANT", "reason": null}));
    let foreign = post(
        &app,
        "/v4/compliance/setStatus",
        &json!({"address": "osmo1abc", "status": "BLOCKED"}),
        &[],
    )
    .await;
    assert_eq!(foreign.status, 400);
    assert_eq!(
        foreign.body,
        message("Address osmo1abc is not a dydx address")
    );
    let bad = post(
        &app,
        "/v4/compliance/setStatus",
        &json!({"address": address(9), "status": "FROZEN"}),
        &[],
    )
    .await;
    assert_eq!(
        bad.body,
        json!({"errors": [{"value": "FROZEN", "msg": "Invalid value", "param": "status", "location": "body"}]})
    );
    app.stop().await;
}

#[tokio::test]
async fn a_signed_referral_code_change_renames_the_username() {
    let db = common::db_with_markets(1..=3).await;
    let seed = Seed { pool: db.pool() };
    let wallet = Wallet::new(10);
    let taken_owner = address(11);
    let main = seed.subaccount(&wallet.address, 0, 1).await;
    seed.username(main, "OldCode1").await;
    let other = seed.subaccount(&taken_owner, 0, 1).await;
    seed.username(other, "Taken99").await;
    let newcomer = Wallet::new(12);
    let app = TestApp::start(db).await;
    let now = Utc::now().timestamp();
    let body = |wallet: &Wallet, code: &str| {
        json!({"address": wallet.address, "newCode": code,
               "signedMessage": wallet.sign_direct(code, "UPDATE_CODE", now),
               "pubKey": wallet.pubkey, "timestamp": now})
    };

    let reply = post(
        &app,
        "/v4/affiliates/referralCode",
        &body(&wallet, "Fresh42"),
        &[],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, json!({"referralCode": "Fresh42"}));
    let lookup = app.get("/v4/affiliates/address?referralCode=Fresh42").await;
    assert_eq!(lookup.body, json!({"address": wallet.address}));

    let taken = post(
        &app,
        "/v4/affiliates/referralCode",
        &body(&wallet, "Taken99"),
        &[],
    )
    .await;
    assert_eq!(taken.status, 400);
    assert_eq!(taken.body, message("Referral code already exists"));
    let early = post(
        &app,
        "/v4/affiliates/referralCode",
        &body(&newcomer, "Newbie1"),
        &[],
    )
    .await;
    assert_eq!(
        early.body,
        message("Referral code update not available yet - please try again later")
    );
    let short = post(
        &app,
        "/v4/affiliates/referralCode",
        &body(&wallet, "ab"),
        &[],
    )
    .await;
    assert_eq!(short.status, 400);
    assert_eq!(short.body["errors"][0]["param"], "newCode");
    let mut forged = body(&wallet, "Forged1");
    forged["newCode"] = json!("Other12");
    let refused = post(&app, "/v4/affiliates/referralCode", &forged, &[]).await;
    assert_eq!(refused.body, message("Signature verification failed"));

    let keplr = json!({"address": wallet.address, "newCode": "Keplr77",
                       "signedMessage": wallet.sign_keplr("Keplr77"), "pubKey": wallet.pubkey});
    let reply = post(&app, "/v4/affiliates/referralCode-keplr", &keplr, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let username: String = sqlx::query_scalar(
        r#"SELECT username FROM subaccount_usernames WHERE "subaccountId" = $1"#,
    )
    .bind(subaccount_uuid(&wallet.address, 0))
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(username, "Keplr77");
    app.stop().await;
}

async fn affiliate(pool: &PgPool, address: &str, earnings: &str, fees: (&str, &str, &str)) {
    sqlx::query(
        r#"INSERT INTO affiliate_info (address, "affiliateEarnings", "referredMakerTrades",
               "referredTakerTrades", "totalReferredUsers", "firstReferralBlockHeight",
               "referredTotalVolume", "totalReferredTakerFees", "totalReferredMakerFees",
               "totalReferredMakerRebates")
           VALUES ($1, $2::numeric, 3, 4, 2, 1, 1000.5, $3::numeric, $4::numeric, $5::numeric)"#,
    )
    .bind(address)
    .bind(earnings)
    .bind(fees.0)
    .bind(fees.1)
    .bind(fees.2)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_affiliate_snapshot_pages_filters_and_sorts_by_earnings() {
    let db = common::db_with_markets(1..=3).await;
    let pool = db.pool().clone();
    let seed = Seed { pool: &pool };
    let (a, b, c) = (address(20), address(21), address(22));
    let mut sorted = [a.clone(), b.clone(), c.clone()];
    sorted.sort();
    affiliate(&pool, &sorted[0], "5.5", ("10", "2.25", "-1")).await;
    affiliate(&pool, &sorted[1], "20", ("30", "0", "0")).await;
    affiliate(&pool, &sorted[2], "1", ("1", "1", "0")).await;
    let first = seed.subaccount(&sorted[0], 0, 1).await;
    seed.username(first, "FirstCode").await;
    let app = TestApp::start(db).await;

    let all = app.get("/v4/affiliates/snapshot").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(all.header("cache-control"), Some("public, max-age=10"));
    assert_eq!(all.body["total"], 3);
    assert_eq!(all.body["currentOffset"], 0);
    assert_eq!(
        all.body["affiliateList"][0],
        json!({
            "affiliateAddress": sorted[0], "affiliateReferralCode": "FirstCode",
            "affiliateEarnings": 5.5, "affiliateReferredTrades": 7,
            "affiliateTotalReferredFees": 11.25, "affiliateReferredUsers": 2,
            "affiliateReferredNetProtocolEarnings": 5.75,
            "affiliateReferredTotalVolume": 1000.5,
            "affiliateReferredMakerFees": 2.25, "affiliateReferredTakerFees": 10,
            "affiliateReferredMakerRebates": -1,
        })
    );
    assert_eq!(all.body["affiliateList"][1]["affiliateReferralCode"], "");

    // The clients' spelling with an "s" sorts too (D13); offset and limit page.
    let by_earnings = app
        .get("/v4/affiliates/snapshot?sortByAffiliateEarnings=True&offset=1&limit=1")
        .await;
    assert_eq!(by_earnings.body["total"], 1);
    assert_eq!(by_earnings.body["currentOffset"], 1);
    assert_eq!(
        by_earnings.body["affiliateList"][0]["affiliateAddress"],
        json!(sorted[0])
    );
    let filtered = app
        .get(&format!(
            "/v4/affiliates/snapshot?addressFilter={},{}&sortByAffiliateEarning=true",
            sorted[2], sorted[1]
        ))
        .await;
    let addresses: Vec<&str> = filtered.body["affiliateList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["affiliateAddress"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, [sorted[1].as_str(), sorted[2].as_str()]);

    let bad = app
        .get(
            "/v4/affiliates/snapshot?addressFilter=&offset=-1&limit=0&sortByAffiliateEarning=maybe",
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body,
        json!({"errors": [
            {"value": "", "msg": "addressFilter must be a non-empy array of comma separated strings", "param": "addressFilter", "location": "query"},
            {"value": "-1", "msg": "offset must be a valid integer", "param": "offset", "location": "query"},
            {"value": "0", "msg": "limit must be a valid integer", "param": "limit", "location": "query"},
            {"value": "maybe", "msg": "sortByAffiliateEarning must be a boolean", "param": "sortByAffiliateEarning", "location": "query"},
        ]})
    );
    app.stop().await;
}
