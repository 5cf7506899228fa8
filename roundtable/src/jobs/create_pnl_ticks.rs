//! `create_pnl_ticks` (ops.md §1.4 #4): hourly equity and PnL snapshots per subaccount, behind
//! the historical-PnL endpoints and charts.
//!
//! Runs every 30 s but works only when the latest block reached the next
//! `PNL_TICK_UPDATE_INTERVAL_MS` bucket after the newest ticks, or when the previous run stopped
//! at `PNL_TICK_MAX_ACCOUNTS_PER_RUN`. Then, for every subaccount that ever transferred and has
//! no tick in the current bucket (up to the cap):
//! - equity = USDC balance + Σ(position size × oracle price at the block) + unsettled funding;
//! - total PnL = equity − all-time net USDC transfers;
//! - net transfers = net USDC transfers since the account's previous tick;
//!
//! each rounded to 6 decimals. All reads run in one REPEATABLE READ snapshot. Ticks are inserted
//! in chunks of `PNL_TICK_MAX_ROWS_PER_UPSERT`, one transaction each, and after each commit the
//! chunk's ticks go into the Redis hash `v4/latest-accounts-pnl-tick` (the per-account "last
//! tick" the next runs compare against; rebuilt from Postgres when empty). An account whose tick
//! cannot be computed (e.g. no price for its market) is logged and skipped.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use indexer_domain::ids::pnl_tick_uuid;
use indexer_domain::time::to_iso;
use indexer_domain::Decimal;
use indexer_query::funding::{funding_index_maps, unsettled_funding, FundingIndexMap};
use indexer_store::roundtable::blocks::latest_block;
use indexer_store::roundtable::pnl_ticks::{self as store, PnlTickRow};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::jobs::Deps;
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

/// Decimal places of stored tick values (the reference's `toFixed(6)`).
const TICK_SCALE: u32 = 6;

/// Settings of the job.
#[derive(Debug, Clone, Copy)]
pub struct PnlTickSettings {
    pub interval: Duration,
    pub max_rows_per_insert: usize,
    pub max_accounts_per_run: usize,
}

/// `time` rounded down to a multiple of `interval` since the epoch (12:34 → 12:00 for 1 h).
pub fn bucket(time: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    let interval_ms = (interval.as_millis() as i64).max(1);
    let ms = time.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(interval_ms)).unwrap_or(time)
}

/// Whether a run has work: the latest block entered a later bucket than the newest ticks, or
/// the newest ticks hit the per-run cap (the previous run left accounts behind).
pub fn is_due(
    block_time: DateTime<Utc>,
    newest_ticks: Option<(DateTime<Utc>, i64)>,
    settings: &PnlTickSettings,
) -> bool {
    let Some((tick_time, count)) = newest_ticks else {
        return true;
    };
    let elapsed = block_time - bucket(tick_time, settings.interval);
    elapsed.to_std().unwrap_or(Duration::ZERO) >= settings.interval
        || count >= settings.max_accounts_per_run as i64
}

/// An account's previous tick, as far as choosing and computing the next one needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastTick {
    pub block_height: i64,
    pub block_time: DateTime<Utc>,
}

/// Accounts due for a tick: those whose last tick is in an earlier bucket than `block_time`
/// (oldest first), then accounts with transfers and no tick yet; at most `max`.
pub fn accounts_to_update(
    last_ticks: &HashMap<Uuid, LastTick>,
    with_transfers: &[Uuid],
    block_time: DateTime<Utc>,
    interval: Duration,
    max: usize,
) -> Vec<Uuid> {
    let current = bucket(block_time, interval);
    let mut stale: Vec<(&Uuid, &LastTick)> = last_ticks
        .iter()
        .filter(|(_, tick)| bucket(tick.block_time, interval) != current)
        .collect();
    stale.sort_by_key(|(id, tick)| (tick.block_time, **id));
    let mut accounts: Vec<Uuid> = stale.into_iter().map(|(id, _)| *id).collect();
    accounts.extend(
        with_transfers
            .iter()
            .filter(|id| !last_ticks.contains_key(id)),
    );
    accounts.truncate(max);
    accounts
}

/// What one account's tick is computed from.
#[derive(Debug, Clone, Default)]
pub struct AccountInputs {
    pub usdc_balance: Decimal,
    /// (perpetual id, signed size) of each open position.
    pub positions: Vec<(i64, Decimal)>,
    pub all_time_net_transfers: Decimal,
    pub net_transfers_since_last_tick: Decimal,
    /// Funding indices at the account's last settlement (its last update height).
    pub settled_funding: FundingIndexMap,
}

/// The block a tick describes and when it was made.
#[derive(Debug, Clone, Copy)]
pub struct TickTime {
    pub block_height: i64,
    pub block_time: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// One account's tick; `Err` names what is missing.
pub fn compute_tick(
    subaccount: Uuid,
    inputs: &AccountInputs,
    prices: &HashMap<i64, Decimal>,
    latest_funding: &FundingIndexMap,
    time: TickTime,
) -> Result<PnlTickRow, String> {
    let mut equity = inputs.usdc_balance.clone();
    for (perpetual_id, size) in &inputs.positions {
        let price = prices
            .get(perpetual_id)
            .ok_or_else(|| format!("no oracle price for perpetual {perpetual_id}"))?;
        equity = equity
            + size * price
            + unsettled_funding(size, *perpetual_id, &inputs.settled_funding, latest_funding);
    }
    let total_pnl = &equity - &inputs.all_time_net_transfers;
    Ok(PnlTickRow {
        id: pnl_tick_uuid(subaccount, &time.created_at),
        subaccount_id: subaccount,
        equity: equity.round(TICK_SCALE).into(),
        total_pnl: total_pnl.round(TICK_SCALE).into(),
        net_transfers: inputs
            .net_transfers_since_last_tick
            .round(TICK_SCALE)
            .into(),
        created_at: time.created_at,
        block_height: time.block_height,
        block_time: time.block_time,
    })
}

/// A tick as cached in `v4/latest-accounts-pnl-tick` (the reference's JSON shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedTick {
    pub total_pnl: String,
    pub net_transfers: String,
    pub subaccount_id: String,
    pub created_at: String,
    pub equity: String,
    pub block_height: String,
    pub block_time: String,
}

impl CachedTick {
    pub fn of(row: &PnlTickRow) -> Self {
        let text = |d: &bigdecimal::BigDecimal| Decimal::from(d.clone()).to_fixed(TICK_SCALE);
        CachedTick {
            total_pnl: text(&row.total_pnl),
            net_transfers: text(&row.net_transfers),
            subaccount_id: row.subaccount_id.to_string(),
            created_at: to_iso(&row.created_at),
            equity: text(&row.equity),
            block_height: row.block_height.to_string(),
            block_time: to_iso(&row.block_time),
        }
    }

    fn last_tick(&self) -> Option<(Uuid, LastTick)> {
        Some((
            self.subaccount_id.parse().ok()?,
            LastTick {
                block_height: self.block_height.parse().ok()?,
                block_time: DateTime::parse_from_rfc3339(&self.block_time)
                    .ok()?
                    .with_timezone(&Utc),
            },
        ))
    }
}

pub struct CreatePnlTicks {
    deps: Deps,
    settings: PnlTickSettings,
}

/// Everything read in the consistent snapshot.
struct Snapshot {
    block_height: i64,
    block_time: DateTime<Utc>,
    accounts: Vec<Uuid>,
    inputs: HashMap<Uuid, AccountInputs>,
    prices: HashMap<i64, Decimal>,
    latest_funding: FundingIndexMap,
}

fn decimals<K: std::hash::Hash + Eq>(
    rows: Vec<(K, bigdecimal::BigDecimal)>,
) -> HashMap<K, Decimal> {
    rows.into_iter()
        .map(|(k, v)| (k, Decimal::from(v)))
        .collect()
}

impl CreatePnlTicks {
    pub fn new(deps: Deps, settings: PnlTickSettings) -> Self {
        Self { deps, settings }
    }

    /// Reads everything for one run in one REPEATABLE READ snapshot; `None` when nothing is due.
    async fn read(&self) -> Result<Option<Snapshot>, JobError> {
        let mut tx = self.deps.pools.reader().begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let Some((block_height, block_time)) = latest_block(&mut *tx).await? else {
            return Ok(None);
        };
        let newest = store::newest_tick_block_time(&self.deps.pools.primary).await?;
        if !is_due(block_time, newest, &self.settings) {
            return Ok(None);
        }
        let last_ticks = load_last_ticks(&self.deps).await?;
        let with_transfers = store::subaccounts_with_transfers(&mut tx, block_height).await?;
        let transfer_ids: Vec<Uuid> = with_transfers.iter().map(|(id, _)| *id).collect();
        let accounts = accounts_to_update(
            &last_ticks,
            &transfer_ids,
            block_time,
            self.settings.interval,
            self.settings.max_accounts_per_run,
        );
        metrics::gauge(
            "roundtable_pnl_tick_accounts_to_update",
            accounts.len() as f64,
        );
        if accounts.is_empty() {
            return Ok(None);
        }
        let updated_at: HashMap<Uuid, i64> = with_transfers.into_iter().collect();
        let mut heights: Vec<i64> = accounts
            .iter()
            .filter_map(|id| updated_at.get(id).copied())
            .collect();
        heights.push(block_height);
        let funding = funding_index_maps(&mut tx, &heights).await?;
        let since: Vec<i64> = accounts
            .iter()
            .map(|id| last_ticks.get(id).map_or(0, |t| t.block_height))
            .collect();
        let all_time = vec![0; accounts.len()];
        let totals =
            decimals(store::net_usdc_transfers(&mut tx, &accounts, &all_time, block_height).await?);
        let recent =
            decimals(store::net_usdc_transfers(&mut tx, &accounts, &since, block_height).await?);
        let balances = decimals(store::usdc_balances(&mut tx, &accounts).await?);
        let mut positions: HashMap<Uuid, Vec<(i64, Decimal)>> = HashMap::new();
        for (id, perpetual, size) in store::open_positions(&mut tx, &accounts).await? {
            positions
                .entry(id)
                .or_default()
                .push((perpetual, size.into()));
        }
        let prices = decimals(store::perpetual_prices_at_height(&mut tx, block_height).await?);
        tx.rollback().await?;
        let latest_funding = funding.get(&block_height).cloned().unwrap_or_default();
        let inputs = accounts
            .iter()
            .map(|id| {
                let settled_height = updated_at.get(id).copied().unwrap_or(block_height);
                let input = AccountInputs {
                    usdc_balance: balances.get(id).cloned().unwrap_or_default(),
                    positions: positions.remove(id).unwrap_or_default(),
                    all_time_net_transfers: totals.get(id).cloned().unwrap_or_default(),
                    net_transfers_since_last_tick: recent.get(id).cloned().unwrap_or_default(),
                    settled_funding: funding.get(&settled_height).cloned().unwrap_or_default(),
                };
                (*id, input)
            })
            .collect();
        Ok(Some(Snapshot {
            block_height,
            block_time,
            accounts,
            inputs,
            prices,
            latest_funding,
        }))
    }

    /// Inserts `ticks` in chunks, each committed and then cached.
    async fn write(&self, ticks: &[PnlTickRow], ctx: &RunContext) -> Result<u64, JobError> {
        let mut written = 0;
        for chunk in ticks.chunks(self.settings.max_rows_per_insert.max(1)) {
            if ctx.cancel.is_cancelled() {
                tracing::info!(
                    written,
                    "shutting down; the remaining ticks follow at the next run"
                );
                break;
            }
            let mut tx = self.deps.pools.primary.begin().await?;
            written += store::insert_pnl_ticks(&mut tx, chunk).await?;
            tx.commit().await?;
            cache_ticks(&self.deps, chunk).await?;
        }
        Ok(written)
    }
}

/// The last tick of every account: the Redis cache `v4/latest-accounts-pnl-tick`, or Postgres
/// when the cache is empty (then the cache is refilled completely: later runs trust a non-empty
/// cache, and one holding only the accounts ticked since would make the others look tick-less).
pub async fn load_last_ticks(deps: &Deps) -> Result<HashMap<Uuid, LastTick>, JobError> {
    let key = deps.cache.keys().latest_accounts_pnl_tick();
    let cached: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(&key)
        .query_async(&mut deps.cache.conn())
        .await?;
    if cached.is_empty() {
        let rows = store::newest_tick_per_subaccount(&deps.pools.primary).await?;
        cache_ticks(deps, &rows).await?;
        return Ok(rows
            .iter()
            .map(|row| {
                (
                    row.subaccount_id,
                    LastTick {
                        block_height: row.block_height,
                        block_time: row.block_time,
                    },
                )
            })
            .collect());
    }
    Ok(cached
        .values()
        .filter_map(|json| {
            let tick = serde_json::from_str::<CachedTick>(json)
                .ok()
                .and_then(|t| t.last_tick());
            if tick.is_none() {
                tracing::warn!(entry = %json, "unreadable cached pnl tick ignored");
            }
            tick
        })
        .collect())
}

/// Stores `ticks` as their accounts' latest in `v4/latest-accounts-pnl-tick`.
async fn cache_ticks(deps: &Deps, ticks: &[PnlTickRow]) -> Result<(), JobError> {
    if ticks.is_empty() {
        return Ok(());
    }
    let key = deps.cache.keys().latest_accounts_pnl_tick();
    let mut pipe = redis::pipe();
    for tick in ticks {
        let json = serde_json::to_string(&CachedTick::of(tick)).expect("strings serialize");
        pipe.hset(&key, tick.subaccount_id.to_string(), json)
            .ignore();
    }
    let _: () = pipe.query_async(&mut deps.cache.conn()).await?;
    Ok(())
}

#[async_trait]
impl Job for CreatePnlTicks {
    async fn run(&self, ctx: &RunContext) -> Result<(), JobError> {
        let Some(snapshot) = self.read().await? else {
            return Ok(());
        };
        let time = TickTime {
            block_height: snapshot.block_height,
            block_time: snapshot.block_time,
            created_at: Utc::now(),
        };
        let mut ticks = Vec::with_capacity(snapshot.accounts.len());
        for account in &snapshot.accounts {
            let inputs = &snapshot.inputs[account];
            match compute_tick(
                *account,
                inputs,
                &snapshot.prices,
                &snapshot.latest_funding,
                time,
            ) {
                Ok(tick) => ticks.push(tick),
                Err(reason) => {
                    tracing::error!(subaccount = %account, %reason, "cannot compute pnl tick; account skipped this run")
                }
            }
        }
        let written = self.write(&ticks, ctx).await?;
        tracing::info!(
            accounts = snapshot.accounts.len(),
            written,
            height = snapshot.block_height,
            "pnl ticks created"
        );
        metrics::count("roundtable_pnl_ticks_created_total", written);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const HOUR: Duration = Duration::from_secs(3600);

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, h, m, 0).unwrap()
    }

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    fn settings() -> PnlTickSettings {
        PnlTickSettings {
            interval: HOUR,
            max_rows_per_insert: 1000,
            max_accounts_per_run: 2,
        }
    }

    #[test]
    fn a_run_is_due_in_a_new_hour_or_after_a_capped_run() {
        assert!(is_due(at(12, 5), None, &settings()));
        assert!(!is_due(at(12, 59), Some((at(12, 1), 1)), &settings()));
        assert!(is_due(at(13, 0), Some((at(12, 1), 1)), &settings()));
        assert!(
            is_due(at(12, 30), Some((at(12, 1), 2)), &settings()),
            "capped run continues"
        );
    }

    #[test]
    fn accounts_without_a_tick_this_hour_come_oldest_first_then_new_ones_up_to_the_cap() {
        let (a, b, c, n) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3),
            Uuid::from_u128(4),
        );
        let tick = |t| LastTick {
            block_height: 1,
            block_time: t,
        };
        let last = HashMap::from([
            (a, tick(at(11, 10))),
            (b, tick(at(10, 0))),
            (c, tick(at(12, 3))),
        ]);
        let chosen = accounts_to_update(&last, &[a, b, c, n], at(12, 30), HOUR, 10);
        assert_eq!(chosen, vec![b, a, n]);
        let capped = accounts_to_update(&last, &[a, b, c, n], at(12, 30), HOUR, 2);
        assert_eq!(capped, vec![b, a]);
    }

    #[test]
    fn equity_includes_positions_at_oracle_prices_and_unsettled_funding() {
        let id = Uuid::from_u128(9);
        let inputs = AccountInputs {
            usdc_balance: d("-20000"),
            positions: vec![(0, d("0.5")), (1, d("-2"))],
            all_time_net_transfers: d("10000"),
            net_transfers_since_last_tick: d("1000.1234567"),
            settled_funding: FundingIndexMap::default(),
        };
        let prices = HashMap::from([(0, d("50000")), (1, d("3000"))]);
        let time = TickTime {
            block_height: 10,
            block_time: at(12, 0),
            created_at: at(12, 1),
        };
        let tick = compute_tick(id, &inputs, &prices, &FundingIndexMap::default(), time).unwrap();
        // −20000 + 0.5×50000 − 2×3000 = −1000; PnL = −1000 − 10000.
        assert_eq!(Decimal::from(tick.equity.clone()).to_string(), "-1000");
        assert_eq!(Decimal::from(tick.total_pnl.clone()).to_string(), "-11000");
        assert_eq!(
            Decimal::from(tick.net_transfers.clone()).to_string(),
            "1000.123457"
        );
        assert_eq!(tick.id, pnl_tick_uuid(id, &at(12, 1)));
        assert_eq!(tick.block_height, 10);
        let missing = compute_tick(
            id,
            &inputs,
            &HashMap::new(),
            &FundingIndexMap::default(),
            time,
        );
        assert!(missing.unwrap_err().contains("perpetual 0"));
    }

    #[test]
    fn cached_ticks_round_trip_to_the_last_tick() {
        let row = PnlTickRow {
            id: Uuid::from_u128(1),
            subaccount_id: Uuid::from_u128(2),
            equity: "1.5".parse().unwrap(),
            total_pnl: "-0.25".parse().unwrap(),
            net_transfers: "0".parse().unwrap(),
            created_at: at(12, 1),
            block_height: 42,
            block_time: at(12, 0),
        };
        let cached = CachedTick::of(&row);
        assert_eq!(cached.equity, "1.500000");
        assert_eq!(cached.block_time, "2025-03-01T12:00:00.000Z");
        assert_eq!(
            cached.last_tick(),
            Some((
                Uuid::from_u128(2),
                LastTick {
                    block_height: 42,
                    block_time: at(12, 0)
                }
            ))
        );
    }
}
