//! What every handler shares: settings, database pools, Redis, the market cache, the height
//! watch and the rate limiter.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use indexer_cache::Cache;
use indexer_query::MarketCache;
use indexer_store::Pools;

use crate::config::ComlinkSettings;
use crate::height::HeightWatch;
use crate::rate_limit::RateLimiter;
use crate::response_cache::HeightCache;

/// How long a cached `/v4/perpetualMarkets` body may serve one height (its Cache-Control
/// max-age).
const PERPETUAL_MARKETS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// Cheap to clone: one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    settings: ComlinkSettings,
    pools: Pools,
    cache: Cache,
    markets: MarketCache,
    heights: Arc<HeightWatch>,
    rate_limiter: Option<RateLimiter>,
    /// `/v4/perpetualMarkets` bodies per indexed height.
    perpetual_markets: HeightCache,
}

impl AppState {
    pub fn new(
        settings: ComlinkSettings,
        pools: Pools,
        cache: Cache,
        markets: MarketCache,
        rate_limiter: Option<RateLimiter>,
    ) -> Self {
        let heights = Arc::new(HeightWatch::new(&pools));
        Self(Arc::new(Inner {
            settings,
            pools,
            cache,
            markets,
            heights,
            rate_limiter,
            perpetual_markets: HeightCache::new(PERPETUAL_MARKETS_MAX_AGE),
        }))
    }

    pub fn settings(&self) -> &ComlinkSettings {
        &self.0.settings
    }

    pub fn pools(&self) -> &Pools {
        &self.0.pools
    }

    pub fn cache(&self) -> &Cache {
        &self.0.cache
    }

    pub fn markets(&self) -> &MarketCache {
        &self.0.markets
    }

    pub fn heights(&self) -> &Arc<HeightWatch> {
        &self.0.heights
    }

    pub fn perpetual_markets_cache(&self) -> &HeightCache {
        &self.0.perpetual_markets
    }

    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.0
            .rate_limiter
            .as_ref()
            .filter(|_| self.0.settings.rate_limit_enabled)
    }

    /// The client's IP: `CF-Connecting-IP`, else the first `X-Forwarded-For` entry, else (when
    /// trusted) the TCP peer.
    pub fn client_ip(&self, headers: &HeaderMap, extensions: &Extensions) -> Option<String> {
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string());
        client_ip(headers, peer.filter(|_| self.0.settings.trust_peer_address))
    }

    /// IPs of the indexer's own callers (socks) are never limited nor screened.
    pub fn is_internal_ip(&self, ip: &str) -> bool {
        let ip = ip.to_ascii_lowercase();
        self.0.settings.internal_ips.contains(&ip)
    }
}

/// See [`AppState::client_ip`].
pub fn client_ip(headers: &HeaderMap, peer: Option<String>) -> Option<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    header("cf-connecting-ip")
        .map(|ip| ip.trim().to_owned())
        .filter(|ip| !ip.is_empty())
        .or_else(|| {
            header("x-forwarded-for").and_then(|list| {
                let first: String = list
                    .split(',')
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                (!first.is_empty()).then_some(first)
            })
        })
        .or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_headers_win_over_the_peer() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            client_ip(&headers, Some("9.9.9.9".into())).as_deref(),
            Some("9.9.9.9")
        );
        headers.insert("x-forwarded-for", " 1.2.3.4 , 5.6.7.8".parse().unwrap());
        assert_eq!(
            client_ip(&headers, Some("9.9.9.9".into())).as_deref(),
            Some("1.2.3.4")
        );
        headers.insert("cf-connecting-ip", "4.4.4.4".parse().unwrap());
        assert_eq!(client_ip(&headers, None).as_deref(), Some("4.4.4.4"));
    }
}
