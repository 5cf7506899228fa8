//! Redis-backed fixed-window rate limits (serve.md §2.5): each limiter has its own budget per
//! client IP under `comlink/<name>:<ip>` on the rate-limit Redis; Redis errors let requests
//! through (fail open).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use redis::aio::ConnectionManager;

use crate::auth::ApiKey;
use crate::error::ApiError;
use crate::state::AppState;

/// The limiter families and the routes they cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limiter {
    Get,
    Orders,
    Fills,
    Candles,
    Sparklines,
    HistoricalPnl,
    Pnl,
    Funding,
}

impl Limiter {
    pub const ALL: &'static [Limiter] = &[
        Limiter::Get,
        Limiter::Orders,
        Limiter::Fills,
        Limiter::Candles,
        Limiter::Sparklines,
        Limiter::HistoricalPnl,
        Limiter::Pnl,
        Limiter::Funding,
    ];

    /// The reference's limiter name (Redis key prefix `comlink/<name>`).
    pub fn key_name(self) -> &'static str {
        match self {
            Limiter::Get => "get",
            Limiter::Orders => "orders",
            Limiter::Fills => "fills",
            Limiter::Candles => "candles",
            Limiter::Sparklines => "sparklines",
            Limiter::HistoricalPnl => "historical_pnl",
            Limiter::Pnl => "pnl",
            Limiter::Funding => "funding",
        }
    }

    /// The `<NAME>` of `RATE_LIMIT_<NAME>_POINTS`.
    pub fn env_name(self) -> &'static str {
        match self {
            Limiter::Get => "GET",
            Limiter::Orders => "ORDERS",
            Limiter::Fills => "FILLS",
            Limiter::Candles => "CANDLES",
            Limiter::Sparklines => "SPARKLINES",
            Limiter::HistoricalPnl => "HISTORICAL_PNL",
            Limiter::Pnl => "PNL",
            Limiter::Funding => "FUNDING",
        }
    }

    /// (points, window seconds) of the reference.
    pub fn defaults(self) -> (u32, u64) {
        match self {
            Limiter::Candles => (1000, 10),
            _ => (100, 10),
        }
    }
}

/// Budget of one limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiterSettings {
    pub points: u32,
    pub duration: Duration,
}

/// The result of consuming one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumed {
    pub limit: u32,
    pub remaining: u32,
    /// Milliseconds until the window resets.
    pub ms_before_next: u64,
    pub allowed: bool,
}

/// Creates the window on first use, then counts points in it (as rate-limiter-flexible does).
const CONSUME_SCRIPT: &str = r"
redis.call('SET', KEYS[1], 0, 'PX', ARGV[2], 'NX')
local consumed = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
return {consumed, ttl}
";

/// The connection to the rate-limit Redis and the key prefix (tests use a unique one).
#[derive(Clone)]
pub struct RateLimiter {
    conn: ConnectionManager,
    key_prefix: String,
    script: redis::Script,
}

impl RateLimiter {
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        Ok(Self {
            conn: ConnectionManager::new(client).await?,
            key_prefix: key_prefix.to_owned(),
            script: redis::Script::new(CONSUME_SCRIPT),
        })
    }

    pub fn key(&self, limiter: Limiter, client: &str) -> String {
        format!(
            "{}comlink/{}:{}",
            self.key_prefix,
            limiter.key_name(),
            client
        )
    }

    /// Consumes one point of `limiter` for `client`.
    pub async fn consume(
        &self,
        limiter: Limiter,
        settings: LimiterSettings,
        client: &str,
    ) -> Result<Consumed, redis::RedisError> {
        let window_ms = settings.duration.as_millis().max(1) as u64;
        let (consumed, ttl): (i64, i64) = self
            .script
            .key(self.key(limiter, client))
            .arg(1)
            .arg(window_ms)
            .invoke_async(&mut self.conn.clone())
            .await?;
        let points = i64::from(settings.points);
        Ok(Consumed {
            limit: settings.points,
            remaining: (points - consumed).max(0) as u32,
            ms_before_next: ttl.max(0) as u64,
            allowed: consumed <= points,
        })
    }
}

/// Route middleware for one limiter: adds the `RateLimit-*` headers and rejects with 429 once
/// the window's points are spent. A request with a valid API key ([`crate::auth`]) spends the
/// key's budget (named by its subject, else the IP) with the points the key grants.
pub async fn limit(
    State((state, limiter)): State<(AppState, Limiter)>,
    request: Request,
    next: Next,
) -> Response {
    let Some(rate_limiter) = state.rate_limiter() else {
        return next.run(request).await;
    };
    let ip = state.client_ip(request.headers(), request.extensions());
    if ip.as_deref().is_some_and(|ip| state.is_internal_ip(ip)) {
        return next.run(request).await;
    }
    let mut settings = state.settings().limiter(limiter);
    let api_key = request.extensions().get::<ApiKey>();
    let client = match (api_key, ip) {
        (Some(key), ip) => {
            settings.points = settings.points.max(key.points.unwrap_or(0));
            match (&key.subject, ip) {
                (Some(subject), _) => format!("apikey:{subject}"),
                (None, Some(ip)) => ip,
                (None, None) => return next.run(request).await,
            }
        }
        (None, Some(ip)) => ip,
        (None, None) => return next.run(request).await,
    };
    let consumed = match rate_limiter.consume(limiter, settings, &client).await {
        Ok(consumed) => consumed,
        Err(error) => {
            tracing::warn!(%error, limiter = limiter.key_name(), "rate limiter unavailable; request allowed");
            return next.run(request).await;
        }
    };
    let mut response = if consumed.allowed {
        next.run(request).await
    } else {
        ApiError::TooManyRequests.into_response()
    };
    set_headers(response.headers_mut(), &consumed);
    response
}

fn set_headers(headers: &mut HeaderMap, consumed: &Consumed) {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut set = |name: &'static str, value: u64| {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    };
    set("ratelimit-limit", u64::from(consumed.limit));
    set("ratelimit-remaining", u64::from(consumed.remaining));
    set("ratelimit-reset", now_ms + consumed.ms_before_next);
    if !consumed.allowed {
        // Milliseconds, not seconds: the reference's unit, kept for compatibility.
        set("retry-after", consumed.ms_before_next);
    }
}
