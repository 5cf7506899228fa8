//! The route table (path → handler, rate limiter, Cache-Control family), the OpenAPI document,
//! and the server with its background refreshers.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, Method};
use axum::middleware::from_fn_with_state;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router, ServiceExt};
use indexer_cache::Cache;
use indexer_query::MarketCache;
use indexer_store::Pools;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::util::MapRequestLayer;
use tower::Layer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;

use crate::config::ComlinkSettings;
use crate::error::{route_not_found, ServerErrorResponses};
use crate::http::{normalize_path, observe};
use crate::rate_limit::{Limiter, RateLimiter};
use crate::routes::{
    addresses, affiliates, asset_positions, candles, compliance, fills, funding_payments,
    historical_funding, historical_pnl, orderbooks, orders, perpetual_markets, perpetual_positions,
    pnl, rewards, signed_posts, social, sparklines, trade_history, trades, transfers, utility,
    vaults, CacheFamily,
};
use crate::state::AppState;

/// Every path served, for case-insensitive and trailing-slash matching.
pub const ROUTES: &[&str] = &[
    "/health",
    "/docs",
    "/v4/openapi.json",
    "/v4/time",
    "/v4/height",
    "/v4/perpetualMarkets",
    "/v4/orderbooks/perpetualMarket/{ticker}",
    "/v4/trades/perpetualMarket/{ticker}",
    "/v4/candles/perpetualMarkets/{ticker}",
    "/v4/historicalFunding/{ticker}",
    "/v4/addresses/{address}",
    "/v4/addresses/{address}/subaccountNumber/{subaccountNumber}",
    "/v4/addresses/{address}/parentSubaccountNumber/{parentSubaccountNumber}",
    "/v4/assetPositions",
    "/v4/assetPositions/parentSubaccountNumber",
    "/v4/perpetualPositions",
    "/v4/perpetualPositions/parentSubaccountNumber",
    "/v4/orders",
    "/v4/orders/parentSubaccountNumber",
    "/v4/orders/{orderId}",
    "/v4/fills",
    "/v4/fills/parentSubaccountNumber",
    "/v4/transfers",
    "/v4/transfers/parentSubaccountNumber",
    "/v4/transfers/between",
    "/v4/historical-pnl",
    "/v4/historical-pnl/parentSubaccountNumber",
    "/v4/sparklines",
    "/v4/pnl",
    "/v4/pnl/parentSubaccountNumber",
    "/v4/fundingPayments",
    "/v4/fundingPayments/parentSubaccount",
    "/v4/historicalBlockTradingRewards/{address}",
    "/v4/historicalTradingRewardAggregations/{address}",
    "/v4/trader/search",
    "/v4/affiliates/metadata",
    "/v4/affiliates/address",
    "/v4/affiliates/total_volume",
    "/v4/affiliates/snapshot",
    "/v4/tradeHistory",
    "/v4/tradeHistory/parentSubaccountNumber",
    "/v4/screen",
    "/v4/compliance/screen/{address}",
    "/v4/vault/v1/megavault/historicalPnl",
    "/v4/vault/v1/vaults/historicalPnl",
    "/v4/vault/v1/megavault/positions",
    "/v4/compliance/geoblock",
    "/v4/compliance/geoblock-keplr",
    "/v4/compliance/setStatus",
    "/v4/affiliates/referralCode",
    "/v4/affiliates/referralCode-keplr",
    "/v4/graphql",
    "/v4/graphql/schema.graphql",
    "/graphql",
    "/graphql/schema.graphql",
];

/// The generated OpenAPI document served at `/v4/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    modifiers(&ServerErrorResponses),
    info(title = "Indexer API", version = "v1.0.0",
        description = "dYdX v4 indexer REST API (serve.md). Every route also accepts `minHeight` \
                       (or the `X-Min-Height` header) and answers with `X-Indexer-Height`."),
    paths(
        utility::get_time, utility::get_height,
        perpetual_markets::get_perpetual_markets, orderbooks::get_orderbook, trades::get_trades,
        candles::get_candles, historical_funding::get_historical_funding,
        addresses::get_address, addresses::get_subaccount, addresses::get_parent_subaccount,
        asset_positions::get_asset_positions, asset_positions::get_parent_asset_positions,
        perpetual_positions::get_perpetual_positions,
        perpetual_positions::get_parent_perpetual_positions,
        orders::get_orders, orders::get_parent_orders, orders::get_order,
        fills::get_fills, fills::get_parent_fills,
        transfers::get_transfers, transfers::get_parent_transfers, transfers::get_transfers_between,
        historical_pnl::get_historical_pnl, historical_pnl::get_parent_historical_pnl,
        sparklines::get_sparklines, pnl::get_pnl, pnl::get_parent_pnl,
        funding_payments::get_funding_payments, funding_payments::get_parent_funding_payments,
        rewards::get_block_rewards, rewards::get_aggregated_rewards,
        social::get_trader_search, social::get_affiliate_metadata,
        social::get_affiliate_address, social::get_affiliate_total_volume,
        affiliates::get_affiliate_snapshot,
        trade_history::get_trade_history, trade_history::get_parent_trade_history,
        compliance::get_screen, compliance::get_compliance_screen,
        vaults::get_megavault_historical_pnl, vaults::get_vaults_historical_pnl,
        vaults::get_megavault_positions,
        signed_posts::post_geoblock, signed_posts::post_geoblock_keplr,
        signed_posts::post_set_status,
        signed_posts::post_referral_code, signed_posts::post_referral_code_keplr,
    ),
    tags(
        (name = "utility", description = "Time and indexed height"),
        (name = "markets", description = "Market data"),
        (name = "accounts", description = "Subaccounts, positions, orders, fills, transfers, PnL"),
        (name = "social", description = "Trader search"),
        (name = "affiliates", description = "Affiliate program reads"),
        (name = "compliance", description = "Address screening"),
        (name = "vaults", description = "Megavault PnL and positions"),
    )
)]
pub struct ApiDoc;

/// Connects everything the API needs and loads the market cache.
pub async fn connect(settings: ComlinkSettings) -> anyhow::Result<AppState> {
    let pools = Pools::connect(&settings.postgres).await?;
    let cache = Cache::connect(&settings.redis).await?;
    let markets = MarketCache::load(pools.reader()).await?;
    let rate_limiter = if settings.rate_limit_enabled {
        match RateLimiter::connect(&settings.redis.rate_limit_url, &settings.redis.key_prefix).await
        {
            Ok(limiter) => Some(limiter),
            Err(error) => {
                tracing::warn!(%error, "rate-limit Redis unreachable; requests are not limited");
                None
            }
        }
    } else {
        None
    };
    let state = AppState::new(settings, pools, cache, markets, rate_limiter);
    state.heights().refresh().await?;
    Ok(state)
}

/// The height watch and the market-cache refresher; abort the handles to stop them.
pub fn spawn_background(state: &AppState) -> Vec<JoinHandle<()>> {
    let settings = state.settings();
    let heights = state.heights().spawn(settings.height_refresh);
    let refresher = {
        let state = state.clone();
        let interval = settings.market_refresh;
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                if let Err(error) = state.markets().refresh(state.pools().reader()).await {
                    tracing::warn!(%error, "refreshing the market cache failed");
                }
            }
        })
    };
    vec![heights, refresher]
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = MapRequestLayer::new(normalize_path(ROUTES)).layer(router(state));
    axum::serve(
        listener,
        ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// The route table.
pub fn router(state: AppState) -> Router {
    use CacheFamily as C;
    use Limiter as L;
    let route =
        |handler: MethodRouter<AppState>, limiter: Option<Limiter>, family: Option<CacheFamily>| {
            with_limits(&state, handler, limiter, family)
        };
    Router::new()
        .route("/health", get(health))
        .route("/docs", get(docs))
        .route("/v4/openapi.json", get(openapi_json))
        .route(
            "/v4/time",
            route(get(utility::get_time), Some(L::Get), Some(C::Time)),
        )
        .route(
            "/v4/height",
            route(get(utility::get_height), Some(L::Get), None),
        )
        .route(
            "/v4/perpetualMarkets",
            route(
                get(perpetual_markets::get_perpetual_markets),
                Some(L::Get),
                Some(C::PerpetualMarkets),
            ),
        )
        .route(
            "/v4/orderbooks/perpetualMarket/{ticker}",
            route(
                get(orderbooks::get_orderbook),
                Some(L::Get),
                Some(C::Orderbook),
            ),
        )
        .route(
            "/v4/trades/perpetualMarket/{ticker}",
            route(get(trades::get_trades), Some(L::Get), Some(C::Trades)),
        )
        .route(
            "/v4/candles/perpetualMarkets/{ticker}",
            route(
                get(candles::get_candles),
                Some(L::Candles),
                Some(C::Candles),
            ),
        )
        .route(
            "/v4/historicalFunding/{ticker}",
            route(
                get(historical_funding::get_historical_funding),
                Some(L::Get),
                Some(C::HistoricalFunding),
            ),
        )
        .route(
            "/v4/addresses/{address}",
            route(
                get(addresses::get_address),
                Some(L::Get),
                Some(C::Addresses),
            ),
        )
        .route(
            "/v4/addresses/{address}/subaccountNumber/{subaccountNumber}",
            route(
                get(addresses::get_subaccount),
                Some(L::Get),
                Some(C::Addresses),
            ),
        )
        .route(
            "/v4/addresses/{address}/parentSubaccountNumber/{parentSubaccountNumber}",
            route(
                get(addresses::get_parent_subaccount),
                Some(L::Get),
                Some(C::Addresses),
            ),
        )
        .route(
            "/v4/assetPositions",
            route(
                get(asset_positions::get_asset_positions),
                Some(L::Get),
                Some(C::AssetPositions),
            ),
        )
        .route(
            "/v4/assetPositions/parentSubaccountNumber",
            route(
                get(asset_positions::get_parent_asset_positions),
                Some(L::Get),
                Some(C::AssetPositions),
            ),
        )
        .route(
            "/v4/perpetualPositions",
            route(
                get(perpetual_positions::get_perpetual_positions),
                Some(L::Get),
                Some(C::PerpetualPositions),
            ),
        )
        .route(
            "/v4/perpetualPositions/parentSubaccountNumber",
            route(
                get(perpetual_positions::get_parent_perpetual_positions),
                Some(L::Get),
                Some(C::PerpetualPositions),
            ),
        )
        .route(
            "/v4/orders",
            route(get(orders::get_orders), Some(L::Orders), Some(C::Orders)),
        )
        .route(
            "/v4/orders/parentSubaccountNumber",
            route(
                get(orders::get_parent_orders),
                Some(L::Orders),
                Some(C::Orders),
            ),
        )
        .route(
            "/v4/orders/{orderId}",
            route(get(orders::get_order), None, Some(C::Orders)),
        )
        .route(
            "/v4/fills",
            route(get(fills::get_fills), Some(L::Fills), Some(C::Fills)),
        )
        .route(
            "/v4/fills/parentSubaccountNumber",
            route(get(fills::get_parent_fills), Some(L::Fills), Some(C::Fills)),
        )
        .route(
            "/v4/transfers",
            route(
                get(transfers::get_transfers),
                Some(L::Get),
                Some(C::Transfers),
            ),
        )
        .route(
            "/v4/transfers/parentSubaccountNumber",
            route(
                get(transfers::get_parent_transfers),
                Some(L::Get),
                Some(C::Transfers),
            ),
        )
        .route(
            "/v4/transfers/between",
            route(
                get(transfers::get_transfers_between),
                Some(L::Get),
                Some(C::Transfers),
            ),
        )
        .route(
            "/v4/historical-pnl",
            route(
                get(historical_pnl::get_historical_pnl),
                Some(L::HistoricalPnl),
                Some(C::HistoricalPnl),
            ),
        )
        .route(
            "/v4/historical-pnl/parentSubaccountNumber",
            route(
                get(historical_pnl::get_parent_historical_pnl),
                Some(L::HistoricalPnl),
                Some(C::HistoricalPnl),
            ),
        )
        .route(
            "/v4/sparklines",
            route(
                get(sparklines::get_sparklines),
                Some(L::Sparklines),
                Some(C::Sparklines),
            ),
        )
        .route(
            "/v4/pnl",
            route(get(pnl::get_pnl), Some(L::Pnl), Some(C::Pnl)),
        )
        .route(
            "/v4/pnl/parentSubaccountNumber",
            route(get(pnl::get_parent_pnl), Some(L::Pnl), Some(C::Pnl)),
        )
        .route(
            "/v4/fundingPayments",
            route(
                get(funding_payments::get_funding_payments),
                Some(L::Funding),
                Some(C::Funding),
            ),
        )
        .route(
            "/v4/fundingPayments/parentSubaccount",
            route(
                get(funding_payments::get_parent_funding_payments),
                Some(L::Funding),
                Some(C::Funding),
            ),
        )
        .route(
            "/v4/historicalBlockTradingRewards/{address}",
            route(
                get(rewards::get_block_rewards),
                Some(L::Get),
                Some(C::HistoricalBlockTradingRewards),
            ),
        )
        .route(
            "/v4/historicalTradingRewardAggregations/{address}",
            route(
                get(rewards::get_aggregated_rewards),
                Some(L::Get),
                Some(C::HistoricalTradingRewards),
            ),
        )
        .route(
            "/v4/trader/search",
            route(
                get(social::get_trader_search),
                Some(L::Get),
                Some(C::SocialTrading),
            ),
        )
        .route(
            "/v4/affiliates/metadata",
            route(
                get(social::get_affiliate_metadata),
                Some(L::Get),
                Some(C::AffiliatesMetadata),
            ),
        )
        .route(
            "/v4/affiliates/address",
            route(
                get(social::get_affiliate_address),
                Some(L::Get),
                Some(C::Affiliates),
            ),
        )
        .route(
            "/v4/affiliates/total_volume",
            route(
                get(social::get_affiliate_total_volume),
                Some(L::Get),
                Some(C::Affiliates),
            ),
        )
        .route(
            "/v4/affiliates/snapshot",
            route(
                get(affiliates::get_affiliate_snapshot),
                Some(L::Get),
                Some(C::Affiliates),
            ),
        )
        .route(
            "/v4/tradeHistory",
            route(
                get(trade_history::get_trade_history),
                Some(L::Fills),
                Some(C::Fills),
            ),
        )
        .route(
            "/v4/tradeHistory/parentSubaccountNumber",
            route(
                get(trade_history::get_parent_trade_history),
                Some(L::Fills),
                Some(C::Fills),
            ),
        )
        .route(
            "/v4/screen",
            route(get(compliance::get_screen), Some(L::Get), None),
        )
        .route(
            "/v4/compliance/screen/{address}",
            route(get(compliance::get_compliance_screen), Some(L::Get), None),
        )
        .route(
            "/v4/vault/v1/megavault/historicalPnl",
            route(
                get(vaults::get_megavault_historical_pnl),
                Some(L::Get),
                Some(C::Vaults),
            ),
        )
        .route(
            "/v4/vault/v1/vaults/historicalPnl",
            route(
                get(vaults::get_vaults_historical_pnl),
                Some(L::Get),
                Some(C::Vaults),
            ),
        )
        .route(
            "/v4/vault/v1/megavault/positions",
            route(
                get(vaults::get_megavault_positions),
                Some(L::Get),
                Some(C::Vaults),
            ),
        )
        .route("/v4/compliance/geoblock", post(signed_posts::post_geoblock))
        .route(
            "/v4/compliance/geoblock-keplr",
            post(signed_posts::post_geoblock_keplr),
        )
        .route(
            "/v4/affiliates/referralCode",
            post(signed_posts::post_referral_code),
        )
        .route(
            "/v4/affiliates/referralCode-keplr",
            post(signed_posts::post_referral_code_keplr),
        )
        .merge(set_status_route(&state))
        .merge(crate::graphql::router(&state))
        .merge(crate::web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(from_fn_with_state(state.clone(), crate::auth::authenticate))
        .layer(from_fn_with_state(state.clone(), observe))
        .layer(cors(&state))
        .with_state(state)
}

/// `POST /v4/compliance/setStatus` exists only when an operator exposes it (serve.md §4.4.4).
fn set_status_route(state: &AppState) -> Router<AppState> {
    let router = Router::new();
    if state.settings().expose_set_compliance_endpoint {
        router.route(
            "/v4/compliance/setStatus",
            post(signed_posts::post_set_status),
        )
    } else {
        router
    }
}

/// Rate limiter outermost (a limited request gets 429 before anything else), then the
/// route's Cache-Control directive.
fn with_limits(
    state: &AppState,
    handler: MethodRouter<AppState>,
    limiter: Option<Limiter>,
    family: Option<CacheFamily>,
) -> MethodRouter<AppState> {
    let mut handler = handler;
    if let Some(family) = family {
        let directive = state.settings().cache_control(family);
        match HeaderValue::from_str(directive) {
            Ok(value) => {
                handler = handler.layer(SetResponseHeaderLayer::overriding(CACHE_CONTROL, value))
            }
            Err(_) => tracing::warn!(directive, "invalid Cache-Control directive ignored"),
        }
    }
    if let Some(limiter) = limiter {
        handler = handler.layer(from_fn_with_state(
            (state.clone(), limiter),
            crate::rate_limit::limit,
        ));
    }
    handler
}

fn cors(state: &AppState) -> CorsLayer {
    let origin = state.settings().cors_origin.as_str();
    let allow_origin = match origin {
        "*" => AllowOrigin::any(),
        exact => match HeaderValue::from_str(exact) {
            Ok(value) => AllowOrigin::exact(value),
            Err(_) => AllowOrigin::any(),
        },
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::PATCH,
            Method::POST,
            Method::DELETE,
        ])
        .allow_headers(Any)
        .expose_headers(Any)
}

async fn not_found() -> axum::response::Response {
    route_not_found()
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true }))
}

/// The document is generated once and served as stored bytes.
async fn openapi_json() -> axum::response::Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let body = DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the generated OpenAPI document serialises")
    });
    ([(CONTENT_TYPE, "application/json")], body.as_str()).into_response()
}

/// Swagger UI over `/v4/openapi.json` (the UI's assets come from a CDN).
async fn docs() -> Html<&'static str> {
    Html(
        r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Indexer API</title>
  <link rel="stylesheet" href="https://unpkg.com/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="https://unpkg.com/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
  <script>SwaggerUIBundle({ url: "/v4/openapi.json", dom_id: "#swagger-ui" });</script>
</body>
</html>"##,
    )
}
