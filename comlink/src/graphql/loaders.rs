//! Data loaders: nested collections that many parents of one request ask for are read in one
//! query instead of one per parent (no N+1). `address { subaccounts { fills } }` reads the fills
//! of every subaccount with one lateral query ([`indexer_query::fills::fills_per_subaccount`]),
//! the limit and page applying per subaccount as on REST.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use chrono::{DateTime, Utc};
use indexer_query as q;
use indexer_query::Pagination;
use uuid::Uuid;

use super::context::{api_error, query_error};
use crate::ctx::Ctx;

/// Batches run by the fills loader since start (also the `comlink_graphql_loader_batches_total`
/// counter); lets tests see that N subaccounts cost one query.
static FILLS_BATCHES: AtomicU64 = AtomicU64::new(0);

/// How many batched fills reads this process has run.
pub fn fills_batches() -> u64 {
    FILLS_BATCHES.load(Ordering::Relaxed)
}

/// The fills arguments in hashable form (subaccounts asking with equal arguments share a batch).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FillsArgs {
    clob_pair_id: Option<i64>,
    include_types: Vec<String>,
    exclude_types: Vec<String>,
    created_before_or_at_height: Option<i64>,
    created_before_or_at: Option<DateTime<Utc>>,
    limit: u32,
    page: Option<u32>,
}

/// One subaccount's fills under given arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FillsKey {
    subaccount: Uuid,
    number: i32,
    args: Arc<FillsArgs>,
}

impl FillsKey {
    pub fn new(subaccount: Uuid, number: i32, filter: &q::fills::FillsFilter) -> Self {
        Self {
            subaccount,
            number,
            args: Arc::new(FillsArgs {
                clob_pair_id: filter.clob_pair_id,
                include_types: filter.include_types.clone(),
                exclude_types: filter.exclude_types.clone(),
                created_before_or_at_height: filter.created_before_or_at_height,
                created_before_or_at: filter.created_before_or_at,
                limit: filter.pagination.limit,
                page: filter.pagination.page,
            }),
        }
    }
}

impl FillsArgs {
    fn filter(&self) -> q::fills::FillsFilter {
        q::fills::FillsFilter {
            clob_pair_id: self.clob_pair_id,
            include_types: self.include_types.clone(),
            exclude_types: self.exclude_types.clone(),
            created_before_or_at_height: self.created_before_or_at_height,
            created_before_or_at: self.created_before_or_at,
            pagination: Pagination::new(self.limit, self.page),
        }
    }
}

/// Reads through the request's context (so `minHeight` applies to nested reads too).
pub struct FillsLoader {
    request: Arc<Ctx>,
}

impl FillsLoader {
    pub fn new(request: Arc<Ctx>) -> Self {
        Self { request }
    }
}

impl Loader<FillsKey> for FillsLoader {
    type Value = q::Paged<q::fills::Fill>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[FillsKey]) -> Result<HashMap<FillsKey, Self::Value>, Self::Error> {
        let db = self.request.reader().await.map_err(api_error)?;
        let markets = self.request.markets(None).await;
        let mut groups: HashMap<Arc<FillsArgs>, Vec<&FillsKey>> = HashMap::new();
        for key in keys {
            groups.entry(key.args.clone()).or_default().push(key);
        }
        let mut loaded = HashMap::with_capacity(keys.len());
        for (args, group) in groups {
            let numbers: HashMap<Uuid, i32> =
                group.iter().map(|k| (k.subaccount, k.number)).collect();
            FILLS_BATCHES.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("comlink_graphql_loader_batches_total", "loader" => "fills")
                .increment(1);
            metrics::counter!("comlink_graphql_loader_keys_total", "loader" => "fills")
                .increment(group.len() as u64);
            let mut by_id =
                q::fills::fills_per_subaccount(&db.pool, &markets, &numbers, &args.filter())
                    .await
                    .map_err(query_error)?;
            for key in group {
                if let Some(paged) = by_id.remove(&key.subaccount) {
                    loaded.insert(key.clone(), paged);
                }
            }
        }
        Ok(loaded)
    }
}
