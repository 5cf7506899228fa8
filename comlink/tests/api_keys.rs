//! Bot API keys: a JWT signed with the operator's key lifts the rate limit to what the token
//! names; bad tokens are a 401; without a configured key the header is ignored. Real Redis
//! counters (rate limiting on, unique key prefix per test).

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::Utc;
use common::TestApp;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

const SECRET: &str = "operator-secret";

fn sign_hs256(secret: &str, claims: serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{header}.{payload}.{signature}")
}

fn in_an_hour() -> i64 {
    Utc::now().timestamp() + 3600
}

/// The `get` limiter at 2 points per window, API keys on with tier `bot` = 5 points.
async fn start(extra: &[(&str, &str)]) -> TestApp {
    let db = common::db_with_markets(1..=3).await;
    let mut vars = vec![
        ("RATE_LIMIT_ENABLED", "true"),
        ("RATE_LIMIT_GET_POINTS", "2"),
        ("RATE_LIMIT_GET_DURATION_SECONDS", "60"),
    ];
    vars.extend_from_slice(extra);
    TestApp::start_with(db, &vars).await
}

async fn statuses(app: &TestApp, count: usize, headers: &[(&str, &str)]) -> Vec<u16> {
    let mut seen = Vec::new();
    for _ in 0..count {
        seen.push(app.get_with("/v4/height", headers).await.status);
    }
    seen
}

#[tokio::test]
async fn a_tier_token_lifts_the_limit_on_its_own_budget() {
    let app = start(&[("API_KEY_JWT_SECRET", SECRET), ("API_KEY_TIERS", "bot:5")]).await;
    assert_eq!(statuses(&app, 3, &[]).await, [200, 200, 429]);

    let token = sign_hs256(
        SECRET,
        json!({"sub": "market-maker-1", "exp": in_an_hour(), "tier": "bot"}),
    );
    let auth = format!("Bearer {token}");
    let headers = [("authorization", auth.as_str())];
    let first = app.get_with("/v4/height", &headers).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("ratelimit-limit"), Some("5"));
    assert_eq!(first.header("ratelimit-remaining"), Some("4"));
    assert_eq!(statuses(&app, 5, &headers).await, [200, 200, 200, 200, 429]);

    // `points` names the budget directly.
    let direct = sign_hs256(
        SECRET,
        json!({"sub": "bot-2", "exp": in_an_hour(), "points": 50}),
    );
    let reply = app
        .get_with(
            "/v4/height",
            &[("authorization", &format!("Bearer {direct}"))],
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("ratelimit-limit"), Some("50"));
    app.stop().await;
}

#[tokio::test]
async fn expired_forged_unsigned_and_malformed_tokens_get_a_401() {
    let app = start(&[("API_KEY_JWT_SECRET", SECRET)]).await;
    let expired = sign_hs256(
        SECRET,
        json!({"sub": "bot", "exp": Utc::now().timestamp() - 5, "points": 500}),
    );
    let forged = sign_hs256(
        "guessed",
        json!({"sub": "bot", "exp": in_an_hour(), "points": 500}),
    );
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(json!({"exp": in_an_hour(), "points": 500}).to_string())
    );
    for (token, msg) in [
        (expired.as_str(), "Invalid API key: token expired"),
        (forged.as_str(), "Invalid API key: bad signature"),
        (
            unsigned.as_str(),
            "Invalid API key: algorithm none is not accepted",
        ),
        ("not-a-jwt", "Invalid API key: malformed token"),
    ] {
        let reply = app
            .get_with(
                "/v4/height",
                &[("authorization", &format!("Bearer {token}"))],
            )
            .await;
        assert_eq!(reply.status, 401, "{msg}");
        assert_eq!(reply.body, json!({"errors": [{"msg": msg}]}));
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
    // A refused token spends nothing: the IP's own budget is untouched.
    assert_eq!(statuses(&app, 2, &[]).await, [200, 200]);
    app.stop().await;
}

#[tokio::test]
async fn eddsa_tokens_verify_against_the_configured_public_key() {
    let signing = ed25519_consensus::SigningKey::from([42u8; 32]);
    let public = STANDARD.encode(signing.verification_key().to_bytes());
    let app = start(&[("API_KEY_JWT_ED25519_PUBLIC_KEY", &public)]).await;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD
        .encode(json!({"sub": "ed-bot", "exp": in_an_hour(), "points": 10}).to_string());
    let input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(signing.sign(input.as_bytes()).to_bytes());
    let auth = format!("Bearer {input}.{signature}");
    let reply = app
        .get_with("/v4/height", &[("authorization", &auth)])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("ratelimit-limit"), Some("10"));
    // The HS256 algorithm is refused when only an EdDSA key is configured.
    let hs = sign_hs256(SECRET, json!({"exp": in_an_hour()}));
    let refused = app
        .get_with("/v4/height", &[("authorization", &format!("Bearer {hs}"))])
        .await;
    assert_eq!(refused.status, 401);
    app.stop().await;
}

#[tokio::test]
async fn without_a_configured_key_the_header_is_ignored() {
    let app = start(&[]).await;
    let token = sign_hs256(SECRET, json!({"exp": in_an_hour(), "points": 1000}));
    let headers = [("authorization", &*format!("Bearer {token}"))];
    let first = app.get_with("/v4/height", &headers).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("ratelimit-limit"), Some("2"));
    let garbage = app
        .get_with("/v4/height", &[("authorization", "Bearer garbage")])
        .await;
    assert_eq!(garbage.status, 200);
    assert_eq!(
        app.get_with("/v4/height", &headers).await.status,
        429,
        "the token lifted nothing"
    );
    app.stop().await;
}
