//! The vault reads (serve.md §4.5): megavault and per-vault PnL history, and the megavault's
//! positions.
//!
//! A vault is a row of `vaults` whose `clobPairId` names a known market; its subaccount is
//! `address/0`. The megavault is every vault subaccount plus the main megavault subaccount
//! ([`MEGAVAULT_SUBACCOUNT_ID`]). History comes from the materialized views `vaults_hourly_pnl`
//! / `vaults_daily_pnl` (refreshed by roundtable); each vault's PnL is counted from its "start
//! PnL", the latest tick at or before the configured start date plus ten minutes. Positions and
//! current equity are the subaccount response objects of §3.4 (formulas of §3.8), read in the
//! same snapshot as the ticks.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use chrono::{DateTime, Duration, DurationRound, TimeZone, Utc};
use indexer_domain::ids::subaccount_uuid;
use indexer_domain::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::blocks::BlockHeightResponse;
use crate::json::{IntString, Numeric};
use crate::markets::MarketsSnapshot;
use crate::pnl::PnlTick;
use crate::subaccounts::{
    snapshot, subaccount_responses_by_id, AssetPosition, PerpetualPosition, Subaccount, USDC_SYMBOL,
};
use crate::QueryError;

/// The main megavault subaccount: `dydx18tkxrnrkqc2t0lr3zxr5g6a4hdvqksylxqje4r/0`.
pub const MEGAVAULT_SUBACCOUNT_ID: Uuid = Uuid::from_u128(0xc7169f81_0c80_54c5_a41f_9cbb6a538fdf);

/// How far past the start date a vault's start-PnL tick may lie (the reference's ten minutes).
const START_PNL_SLACK_MINUTES: i64 = 10;

/// `resolution` of the vault PnL routes (`PnlTickInterval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PnlTickInterval {
    Hour,
    #[default]
    Day,
}

impl PnlTickInterval {
    pub fn as_str(self) -> &'static str {
        match self {
            PnlTickInterval::Hour => "hour",
            PnlTickInterval::Day => "day",
        }
    }

    fn view(self) -> &'static str {
        match self {
            PnlTickInterval::Hour => "vaults_hourly_pnl",
            PnlTickInterval::Day => "vaults_daily_pnl",
        }
    }

    fn length(self) -> Duration {
        match self {
            PnlTickInterval::Hour => Duration::hours(1),
            PnlTickInterval::Day => Duration::days(1),
        }
    }

    /// The start of the interval holding `time` (UTC).
    fn start_of(self, time: DateTime<Utc>) -> DateTime<Utc> {
        time.duration_trunc(self.length()).unwrap_or(time)
    }
}

impl FromStr for PnlTickInterval {
    type Err = ();

    /// Exact lower-case spellings, as the reference validates them.
    fn from_str(text: &str) -> Result<Self, ()> {
        match text {
            "hour" => Ok(PnlTickInterval::Hour),
            "day" => Ok(PnlTickInterval::Day),
            _ => Err(()),
        }
    }
}

/// How much history the PnL routes return (`VAULT_PNL_HISTORY_HOURS` / `_DAYS`,
/// `VAULT_PNL_START_DATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VaultPnlWindow {
    pub history_hours: u32,
    pub history_days: u32,
    /// No tick before this instant; each vault's PnL counts from its tick at this date.
    pub start_date: DateTime<Utc>,
}

impl Default for VaultPnlWindow {
    fn default() -> Self {
        Self {
            history_hours: 72,
            history_days: 90,
            start_date: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
        }
    }
}

impl VaultPnlWindow {
    /// The earliest tick time returned at `now`.
    fn earliest(&self, interval: PnlTickInterval, now: DateTime<Utc>) -> DateTime<Utc> {
        let window = match interval {
            PnlTickInterval::Hour => Duration::hours(i64::from(self.history_hours)),
            PnlTickInterval::Day => Duration::days(i64::from(self.history_days)),
        };
        (now - window).max(self.start_date)
    }
}

/// `{"megavaultPnl": [PnlTicksResponseObject...]}`, oldest first, ending with the current tick.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MegavaultHistoricalPnlResponse {
    pub megavault_pnl: Vec<PnlTick>,
}

/// One vault's PnL history.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultHistoricalPnl {
    pub ticker: String,
    pub historical_pnl: Vec<PnlTick>,
}

/// `{"vaultsPnl": [{ticker, historicalPnl}...]}` sorted by ticker.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultsHistoricalPnlResponse {
    pub vaults_pnl: Vec<VaultHistoricalPnl>,
}

/// One vault's holdings.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultPosition {
    pub ticker: String,
    /// The vault's USDC balance (adjusted by unsettled funding); absent when it is zero.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_position: Option<AssetPosition>,
    /// The open position in the vault's market, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub perpetual_position: Option<PerpetualPosition>,
    pub equity: Numeric,
}

/// `{"positions": [...]}` sorted by ticker.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MegavaultPositionsResponse {
    pub positions: Vec<VaultPosition>,
}

/// A vault with a known market.
#[derive(Debug, Clone)]
struct Vault {
    subaccount_id: Uuid,
    ticker: String,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
struct TickRow {
    subaccount_id: Uuid,
    #[sqlx(flatten)]
    tick: PnlTick,
}

/// Everything one vault response needs, read in one snapshot.
struct VaultState {
    vaults: Vec<Vault>,
    ticks: Vec<TickRow>,
    subaccounts: HashMap<Uuid, Subaccount>,
    latest_block: Option<BlockHeightResponse>,
}

impl VaultState {
    /// Reads the vaults, the ticks of `interval` (when given) of their subaccounts plus
    /// `extra`, those subaccounts' responses and the latest block.
    async fn load(
        pool: &PgPool,
        markets: &MarketsSnapshot,
        extra: Option<Uuid>,
        ticks: Option<(PnlTickInterval, &VaultPnlWindow, DateTime<Utc>)>,
    ) -> Result<Self, QueryError> {
        let mut tx = snapshot(pool).await?;
        let vaults = vaults(&mut tx, markets).await?;
        let mut ids: Vec<Uuid> = vaults.iter().map(|v| v.subaccount_id).collect();
        ids.extend(extra);
        let ticks = match ticks {
            Some((interval, window, now)) => {
                vault_ticks(&mut tx, &ids, interval, window, now).await?
            }
            None => Vec::new(),
        };
        let subaccounts = subaccount_responses_by_id(&mut tx, markets, &ids).await?;
        let latest_block = sqlx::query_as(
            r#"SELECT "blockHeight", time FROM blocks ORDER BY "blockHeight" DESC LIMIT 1"#,
        )
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Self {
            vaults,
            ticks,
            subaccounts,
            latest_block,
        })
    }

    fn equity(&self, subaccount_id: Uuid) -> Decimal {
        self.subaccounts
            .get(&subaccount_id)
            .map_or_else(Decimal::zero, |s| s.equity.decimal().clone())
    }
}

/// The vaults whose clob pair is a known market, each with its subaccount `address/0`.
async fn vaults(
    conn: &mut PgConnection,
    markets: &MarketsSnapshot,
) -> Result<Vec<Vault>, QueryError> {
    let rows: Vec<(String, i64, DateTime<Utc>)> =
        sqlx::query_as(r#"SELECT address, "clobPairId", "createdAt" FROM vaults ORDER BY address"#)
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(address, clob_pair_id, created_at)| {
            let market = markets.by_clob_pair_id(clob_pair_id)?;
            Some(Vault {
                subaccount_id: subaccount_uuid(&address, 0),
                ticker: market.ticker.clone(),
                created_at,
            })
        })
        .collect())
}

/// The view's ticks of `ids` inside the history window, oldest block first, each `totalPnl`
/// counted from its subaccount's start PnL.
async fn vault_ticks(
    conn: &mut PgConnection,
    ids: &[Uuid],
    interval: PnlTickInterval,
    window: &VaultPnlWindow,
    now: DateTime<Utc>,
) -> Result<Vec<TickRow>, QueryError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut ticks: Vec<TickRow> = sqlx::query_as(&format!(
        r#"SELECT "subaccountId", equity, "totalPnl", "netTransfers", "createdAt",
                  "blockHeight", "blockTime"
           FROM {} WHERE "subaccountId" = ANY($1) AND "createdAt" >= $2
           ORDER BY "blockTime", "subaccountId""#,
        interval.view()
    ))
    .bind(ids)
    .bind(window.earliest(interval, now))
    .fetch_all(&mut *conn)
    .await?;
    let start = start_pnl(conn, ids, window.start_date).await?;
    for row in &mut ticks {
        if let Some(start) = start.get(&row.subaccount_id) {
            row.tick.total_pnl = Numeric::computed(row.tick.total_pnl.decimal() - start);
        }
    }
    Ok(ticks)
}

/// Each subaccount's `totalPnl` at its latest tick at or before `start_date` + 10 minutes.
async fn start_pnl(
    conn: &mut PgConnection,
    ids: &[Uuid],
    start_date: DateTime<Utc>,
) -> Result<HashMap<Uuid, Decimal>, QueryError> {
    let rows: Vec<(Uuid, Numeric)> = sqlx::query_as(
        r#"SELECT DISTINCT ON ("subaccountId") "subaccountId", "totalPnl" FROM pnl_ticks
           WHERE "subaccountId" = ANY($1) AND "createdAt" <= $2
           ORDER BY "subaccountId", "createdAt" DESC"#,
    )
    .bind(ids)
    .bind(start_date + Duration::minutes(START_PNL_SLACK_MINUTES))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, pnl)| (id, pnl.into_decimal()))
        .collect())
}

/// Sums the ticks (oldest first) per hour, one tick per subaccount, each sum keeping the
/// earliest tick's times and height; drops hours with fewer vault ticks than vaults created by
/// then (a missing vault would show as a fake loss). The main subaccount's tick is summed but
/// not counted.
fn aggregate_megavault(ticks: Vec<TickRow>, vaults: &[Vault]) -> Vec<PnlTick> {
    struct Hour {
        seen: HashSet<Uuid>,
        vault_ticks: usize,
        tick: PnlTick,
    }
    let mut hours: Vec<Hour> = Vec::new();
    let mut index_of: HashMap<DateTime<Utc>, usize> = HashMap::new();
    for TickRow {
        subaccount_id,
        tick,
    } in ticks
    {
        let start = PnlTickInterval::Hour.start_of(tick.created_at.0);
        let is_vault = subaccount_id != MEGAVAULT_SUBACCOUNT_ID;
        match index_of.get(&start) {
            Some(&index) => {
                let hour = &mut hours[index];
                if !hour.seen.insert(subaccount_id) {
                    continue;
                }
                hour.vault_ticks += usize::from(is_vault);
                let sum = &mut hour.tick;
                sum.equity = Numeric::computed(sum.equity.decimal() + tick.equity.decimal());
                sum.total_pnl =
                    Numeric::computed(sum.total_pnl.decimal() + tick.total_pnl.decimal());
                sum.net_transfers =
                    Numeric::computed(sum.net_transfers.decimal() + tick.net_transfers.decimal());
            }
            None => {
                index_of.insert(start, hours.len());
                hours.push(Hour {
                    seen: HashSet::from([subaccount_id]),
                    vault_ticks: usize::from(is_vault),
                    tick: PnlTick {
                        equity: Numeric::computed(tick.equity.into_decimal()),
                        total_pnl: Numeric::computed(tick.total_pnl.into_decimal()),
                        net_transfers: Numeric::computed(tick.net_transfers.into_decimal()),
                        ..tick
                    },
                });
            }
        }
    }
    hours
        .into_iter()
        .filter(|hour| {
            let existing = vaults
                .iter()
                .filter(|v| v.created_at <= hour.tick.created_at.0)
                .count();
            hour.vault_ticks >= existing
        })
        .map(|hour| hour.tick)
        .collect()
}

/// One tick per interval: the one whose block time is closest to the interval's start. Keeps
/// the input's order (oldest first).
fn one_per_interval(ticks: Vec<PnlTick>, interval: PnlTickInterval) -> Vec<PnlTick> {
    let mut kept: Vec<PnlTick> = Vec::new();
    let mut index_of: HashMap<DateTime<Utc>, usize> = HashMap::new();
    for tick in ticks {
        let start = interval.start_of(tick.block_time.0);
        match index_of.get(&start) {
            Some(&index) if kept[index].block_time.0 <= tick.block_time.0 => {}
            Some(&index) => kept[index] = tick,
            None => {
                index_of.insert(start, kept.len());
                kept.push(tick);
            }
        }
    }
    kept
}

/// Appends the "current" tick: the latest tick with today's equity at the latest block. No
/// history means no current tick either.
fn with_current_tick(
    mut ticks: Vec<PnlTick>,
    equity: Decimal,
    latest_block: Option<&BlockHeightResponse>,
) -> Vec<PnlTick> {
    let (Some(latest), Some(last)) = (
        latest_block,
        ticks.iter().max_by_key(|tick| tick.block_time).cloned(),
    ) else {
        return ticks;
    };
    ticks.push(PnlTick {
        equity: Numeric::computed(equity),
        block_height: IntString(latest.height.0),
        block_time: latest.time,
        created_at: latest.time,
        ..last
    });
    ticks.sort_by_key(|tick| tick.block_time);
    ticks
}

/// `GET /v4/vault/v1/megavault/historicalPnl`.
pub async fn megavault_historical_pnl(
    pool: &PgPool,
    markets: &MarketsSnapshot,
    interval: PnlTickInterval,
    window: &VaultPnlWindow,
    now: DateTime<Utc>,
) -> Result<MegavaultHistoricalPnlResponse, QueryError> {
    let state = VaultState::load(
        pool,
        markets,
        Some(MEGAVAULT_SUBACCOUNT_ID),
        Some((interval, window, now)),
    )
    .await?;
    let equity: Decimal = state
        .vaults
        .iter()
        .map(|v| state.equity(v.subaccount_id))
        .sum::<Decimal>()
        + state.equity(MEGAVAULT_SUBACCOUNT_ID);
    let hourly = aggregate_megavault(state.ticks, &state.vaults);
    let ticks = one_per_interval(hourly, interval);
    Ok(MegavaultHistoricalPnlResponse {
        megavault_pnl: with_current_tick(ticks, equity, state.latest_block.as_ref()),
    })
}

/// `GET /v4/vault/v1/vaults/historicalPnl`: every vault with history, by ticker.
pub async fn vaults_historical_pnl(
    pool: &PgPool,
    markets: &MarketsSnapshot,
    interval: PnlTickInterval,
    window: &VaultPnlWindow,
    now: DateTime<Utc>,
) -> Result<VaultsHistoricalPnlResponse, QueryError> {
    let state = VaultState::load(pool, markets, None, Some((interval, window, now))).await?;
    let mut by_subaccount: HashMap<Uuid, Vec<PnlTick>> = HashMap::new();
    for row in &state.ticks {
        by_subaccount
            .entry(row.subaccount_id)
            .or_default()
            .push(row.tick.clone());
    }
    let mut vaults_pnl: Vec<VaultHistoricalPnl> = state
        .vaults
        .iter()
        .filter_map(|vault| {
            let ticks = by_subaccount.remove(&vault.subaccount_id)?;
            Some(VaultHistoricalPnl {
                ticker: vault.ticker.clone(),
                historical_pnl: with_current_tick(
                    ticks,
                    state.equity(vault.subaccount_id),
                    state.latest_block.as_ref(),
                ),
            })
        })
        .collect();
    vaults_pnl.sort_by(|a, b| a.ticker.cmp(&b.ticker));
    Ok(VaultsHistoricalPnlResponse { vaults_pnl })
}

/// `GET /v4/vault/v1/megavault/positions`: each vault subaccount that exists, by ticker.
pub async fn megavault_positions(
    pool: &PgPool,
    markets: &MarketsSnapshot,
) -> Result<MegavaultPositionsResponse, QueryError> {
    let state = VaultState::load(pool, markets, None, None).await?;
    let mut positions: Vec<VaultPosition> = state
        .vaults
        .iter()
        .filter_map(|vault| {
            let subaccount = state.subaccounts.get(&vault.subaccount_id)?;
            Some(VaultPosition {
                ticker: vault.ticker.clone(),
                asset_position: subaccount.asset_positions.get(USDC_SYMBOL).cloned(),
                perpetual_position: subaccount
                    .open_perpetual_positions
                    .get(&vault.ticker)
                    .cloned(),
                equity: subaccount.equity.clone(),
            })
        })
        .collect();
    positions.sort_by(|a, b| a.ticker.cmp(&b.ticker));
    Ok(MegavaultPositionsResponse { positions })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::IsoTime;

    fn tick(subaccount: Uuid, minute: i64, equity: &str) -> TickRow {
        let time = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(minute);
        TickRow {
            subaccount_id: subaccount,
            tick: PnlTick {
                equity: Numeric::stored(Decimal::parse(equity).unwrap()),
                total_pnl: Numeric::stored(Decimal::parse(equity).unwrap()),
                net_transfers: Numeric::zero(),
                created_at: IsoTime(time),
                block_height: IntString(minute),
                block_time: IsoTime(time),
            },
        }
    }

    fn vault(n: u8, created_minute: i64) -> Vault {
        Vault {
            subaccount_id: Uuid::from_u128(u128::from(n)),
            ticker: format!("T{n}"),
            created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
                + Duration::minutes(created_minute),
        }
    }

    #[test]
    fn the_megavault_id_is_subaccount_zero_of_the_megavault_address() {
        assert_eq!(
            MEGAVAULT_SUBACCOUNT_ID,
            subaccount_uuid("dydx18tkxrnrkqc2t0lr3zxr5g6a4hdvqksylxqje4r", 0)
        );
    }

    #[test]
    fn hours_missing_a_vault_are_dropped_and_the_main_subaccount_is_summed() {
        let (a, b) = (vault(1, 0), vault(2, 90));
        let ticks = vec![
            tick(a.subaccount_id, 0, "10"),
            tick(MEGAVAULT_SUBACCOUNT_ID, 1, "100"),
            // Hour 1: only vault a, but b did not exist before 01:30, so it stays.
            tick(a.subaccount_id, 60, "11"),
            // Hour 2: b exists and has no tick: dropped.
            tick(a.subaccount_id, 120, "12"),
            // Hour 3: both; a's second tick in the hour is ignored.
            tick(a.subaccount_id, 180, "13"),
            tick(b.subaccount_id, 181, "5.50"),
            tick(a.subaccount_id, 182, "99"),
        ];
        let hours = aggregate_megavault(ticks, &[a, b]);
        let equities: Vec<String> = hours.iter().map(|t| t.equity.to_string()).collect();
        assert_eq!(equities, ["110", "11", "18.5"]);
        assert_eq!(hours[2].block_height, IntString(180));
    }

    #[test]
    fn one_tick_per_day_is_the_earliest_and_the_current_tick_comes_last() {
        let ticks: Vec<PnlTick> = [0, 60, 24 * 60 + 5, 24 * 60 + 1]
            .into_iter()
            .map(|m| tick(Uuid::nil(), m, "1").tick)
            .collect();
        let daily = one_per_interval(ticks, PnlTickInterval::Day);
        let heights: Vec<i64> = daily.iter().map(|t| t.block_height.0).collect();
        assert_eq!(heights, [0, 24 * 60 + 1]);
        let latest = BlockHeightResponse {
            height: IntString(5000),
            time: IsoTime(Utc.with_ymd_and_hms(2026, 1, 3, 0, 0, 0).unwrap()),
        };
        let with_current = with_current_tick(daily, Decimal::parse("7.50").unwrap(), Some(&latest));
        let last = with_current.last().unwrap();
        assert_eq!(last.block_height, IntString(5000));
        assert_eq!(last.equity.to_string(), "7.5");
        assert_eq!(last.created_at, latest.time);
        assert!(with_current_tick(Vec::new(), Decimal::zero(), Some(&latest)).is_empty());
    }
}
