//! Cross-cutting HTTP behaviour (serve.md §2.1, §2.7, §2.8): route matching that ignores case
//! and a trailing slash, request ids, response times, geo-header echo, `X-Indexer-Height`,
//! request logs and metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;

use crate::ctx::HeightSlot;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const RESPONSE_TIME: HeaderName = HeaderName::from_static("x-response-time");
const INDEXER_HEIGHT: HeaderName = HeaderName::from_static("x-indexer-height");
/// Request headers echoed back (the JS client's `getHeightWithHeaders` reads them).
const GEO_HEADERS: [&str; 3] = [
    "geo-origin-country",
    "geo-origin-region",
    "geo-origin-status",
];

/// The path of a request rewritten to the route table's spelling when it matches a route only
/// case-insensitively or with a trailing slash (Express's defaults); `None` when nothing changes.
/// Path parameters keep their case.
pub fn canonical_path(path: &str, routes: &[&str]) -> Option<String> {
    let trimmed = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let segments: Vec<&str> = trimmed.split('/').collect();
    let mut best: Option<(usize, String)> = None;
    for route in routes {
        let pattern: Vec<&str> = route.split('/').collect();
        if pattern.len() != segments.len() {
            continue;
        }
        let mut literals = 0;
        let mut rebuilt = Vec::with_capacity(pattern.len());
        let matched = pattern.iter().zip(&segments).all(|(expected, actual)| {
            if expected.starts_with('{') {
                rebuilt.push(*actual);
                !actual.is_empty()
            } else if expected.eq_ignore_ascii_case(actual) {
                literals += 1;
                rebuilt.push(*expected);
                true
            } else {
                false
            }
        });
        if matched && best.as_ref().is_none_or(|(score, _)| literals > *score) {
            best = Some((literals, rebuilt.join("/")));
        }
    }
    best.map(|(_, canonical)| canonical)
        .filter(|canonical| canonical != path)
}

/// Rewrites the URI before routing (see [`canonical_path`]).
pub fn normalize_path(routes: &'static [&'static str]) -> impl Fn(Request) -> Request + Clone {
    move |mut request: Request| {
        if let Some(path) = canonical_path(request.uri().path(), routes) {
            let rewritten = match request.uri().query() {
                Some(query) => format!("{path}?{query}"),
                None => path,
            };
            if let Ok(uri) = rewritten.parse::<Uri>() {
                *request.uri_mut() = uri;
            }
        }
        request
    }
}

/// Per-request headers, logs and metrics (applied after routing, so the matched route is known).
pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let uri = request.uri().clone();
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .expect("a UUID is a valid header")
        });
    let echoed: Vec<(&'static str, HeaderValue)> = GEO_HEADERS
        .iter()
        .filter_map(|name| request.headers().get(*name).map(|v| (*name, v.clone())))
        .collect();
    let slot = HeightSlot::new();
    request.extensions_mut().insert(slot.clone());

    let mut response = next.run(request).await;

    let elapsed = started.elapsed();
    let headers = response.headers_mut();
    headers.insert(REQUEST_ID, request_id);
    headers.insert(
        RESPONSE_TIME,
        HeaderValue::from_str(&format!("{:.3}", elapsed.as_secs_f64() * 1000.0))
            .expect("a number is a valid header"),
    );
    for (name, value) in echoed {
        headers.insert(name, value);
    }
    if headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json")
    {
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    if let Some(height) = slot.get().or_else(|| state.heights().reader_height()) {
        headers.insert(INDEXER_HEIGHT, HeaderValue::from(height));
    }
    record(
        &state,
        &method,
        &route,
        &uri,
        response.status(),
        elapsed.as_secs_f64(),
    );
    response
}

fn record(
    state: &AppState,
    method: &Method,
    route: &str,
    uri: &Uri,
    status: StatusCode,
    seconds: f64,
) {
    let labels = [
        ("route", route.to_owned()),
        ("method", method.as_str().to_owned()),
    ];
    metrics::histogram!("comlink_request_duration_seconds", &labels).record(seconds);
    metrics::counter!(
        "comlink_responses_total",
        "route" => route.to_owned(),
        "method" => method.as_str().to_owned(),
        "status" => status.as_u16().to_string()
    )
    .increment(1);
    let routine = *method == Method::GET && status == StatusCode::OK;
    if routine && !state.settings().log_gets {
        return;
    }
    let ms = seconds * 1000.0;
    if status.is_server_error() {
        tracing::error!(%method, %uri, route, status = status.as_u16(), ms, "request failed");
    } else {
        tracing::info!(%method, %uri, route, status = status.as_u16(), ms, "request");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &[&str] = &[
        "/v4/height",
        "/v4/orders/{orderId}",
        "/v4/orders/parentSubaccountNumber",
        "/v4/trades/perpetualMarket/{ticker}",
    ];

    #[test]
    fn case_and_trailing_slash_are_normalised_and_parameters_kept() {
        assert_eq!(
            canonical_path("/V4/Height/", ROUTES).as_deref(),
            Some("/v4/height")
        );
        assert_eq!(canonical_path("/v4/height", ROUTES), None);
        assert_eq!(
            canonical_path("/v4/TRADES/perpetualmarket/BTC-USD/", ROUTES).as_deref(),
            Some("/v4/trades/perpetualMarket/BTC-USD")
        );
    }

    #[test]
    fn literal_segments_win_over_parameters() {
        assert_eq!(
            canonical_path("/v4/orders/PARENTSUBACCOUNTNUMBER", ROUTES).as_deref(),
            Some("/v4/orders/parentSubaccountNumber")
        );
        assert_eq!(canonical_path("/v4/orders/abc", ROUTES), None);
        assert_eq!(canonical_path("/v4/unknown", ROUTES), None);
    }
}
