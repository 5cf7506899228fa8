//! The per-request context handlers extract: parameters, headers, client IP, and the steps every
//! data route runs in the reference's order (validation → compliance/geo check → read at the
//! requested height).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use indexer_query::MarketsSnapshot;

use crate::error::{ApiError, ApiResult, FieldError, Location};
use crate::height::ReadDb;
use crate::params::{parse_int, QueryParams, Validator};
use crate::state::AppState;

/// The `minHeight` query parameter and its header form.
const MIN_HEIGHT_PARAM: &str = "minHeight";
const MIN_HEIGHT_HEADER: &str = "x-min-height";
const MSG_MIN_HEIGHT: &str = "minHeight must be a non-negative integer";
/// How young a market snapshot may be before an unknown ticker triggers a reload.
const MARKET_RELOAD_MIN_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// Where a request records the height its data reflects, for the `X-Indexer-Height` header.
#[derive(Clone, Default, Debug)]
pub struct HeightSlot(Arc<AtomicI64>);

impl HeightSlot {
    const UNSET: i64 = -1;

    pub fn new() -> Self {
        Self(Arc::new(AtomicI64::new(Self::UNSET)))
    }

    pub fn set(&self, height: i64) {
        self.0.store(height, Ordering::Release);
    }

    pub fn get(&self) -> Option<i64> {
        let height = self.0.load(Ordering::Acquire);
        (height != Self::UNSET).then_some(height)
    }
}

/// Everything a handler needs from the request.
pub struct Ctx {
    pub state: AppState,
    pub query: QueryParams,
    pub path: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub client_ip: Option<String>,
    height_slot: Option<HeightSlot>,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let path = match RawPathParams::from_request_parts(parts, state).await {
            Ok(params) => params
                .iter()
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect(),
            Err(_) => Vec::new(),
        };
        let client_ip = state.client_ip(&parts.headers, &parts.extensions);
        Ok(Self {
            state: state.clone(),
            query: QueryParams::parse(parts.uri.query()),
            path,
            headers: parts.headers.clone(),
            client_ip,
            height_slot: parts.extensions.get::<HeightSlot>().cloned(),
        })
    }
}

impl Ctx {
    /// A validator over this request's parameters.
    pub fn validator(&self) -> Validator<'_> {
        Validator::new(&self.query, &self.path, self.state.settings().api_limit)
    }

    /// Checks `minHeight` (declared last on every route) and fails with every recorded error.
    pub fn finish(&self, mut validator: Validator<'_>) -> ApiResult<()> {
        if let Err(error) = self.min_height() {
            validator.push(error);
        }
        validator.finish()
    }

    /// The requested minimum height: the `minHeight` query parameter, else `X-Min-Height`.
    pub(crate) fn min_height(&self) -> Result<Option<i64>, FieldError> {
        let invalid = |value: &str, location| FieldError {
            value: Some(serde_json::Value::String(value.to_owned())),
            msg: MSG_MIN_HEIGHT.to_owned(),
            param: MIN_HEIGHT_PARAM.to_owned(),
            location,
        };
        if let Some(value) = self.query.all(MIN_HEIGHT_PARAM).first() {
            return parse_int(value)
                .filter(|h| *h >= 0)
                .map(Some)
                .ok_or_else(|| invalid(value, Location::Query));
        }
        match self.headers.get(MIN_HEIGHT_HEADER) {
            None => Ok(None),
            Some(value) => {
                let text = value.to_str().unwrap_or_default();
                parse_int(text.trim())
                    .filter(|h| *h >= 0)
                    .map(Some)
                    .ok_or_else(|| invalid(text, Location::Headers))
            }
        }
    }

    /// The pool to read from for this request (honouring `minHeight`); records the height.
    pub async fn reader(&self) -> ApiResult<ReadDb> {
        let min_height = self
            .min_height()
            .map_err(|e| ApiError::Validation(vec![e]))?;
        let db = self
            .state
            .heights()
            .resolve(min_height, self.state.settings().min_height_wait)
            .await?;
        if let (Some(slot), Some(height)) = (&self.height_slot, db.height) {
            slot.set(height);
        }
        Ok(db)
    }

    /// Records the height a response reflects when it was read outside [`Ctx::reader`].
    pub fn record_height(&self, height: i64) {
        if let Some(slot) = &self.height_slot {
            slot.set(height);
        }
    }

    /// The market snapshot; reloaded first (at most once a second) when `ticker` is given and
    /// unknown, so a market listed since the last periodic refresh is found.
    pub async fn markets(&self, ticker: Option<&str>) -> Arc<MarketsSnapshot> {
        let markets = self.state.markets();
        let snapshot = markets.snapshot();
        match ticker {
            Some(ticker) if snapshot.by_ticker(ticker).is_none() => markets
                .refresh_if_older_than(self.state.pools().reader(), MARKET_RELOAD_MIN_AGE)
                .await
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, "reloading the market cache failed");
                    snapshot
                }),
            _ => snapshot,
        }
    }

    /// The raw value of a path parameter.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The first raw value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.all(name).first().copied()
    }

    /// The compliance and geo check of serve.md §2.6 for account routes.
    pub async fn check_compliance(&self, address: Option<&str>) -> ApiResult<()> {
        crate::compliance::check(self, address).await
    }
}
