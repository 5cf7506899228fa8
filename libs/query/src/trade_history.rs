//! Trade history (serve.md §4.3.14): position lifecycles rebuilt in memory from fills.
//!
//! Fills of one (subaccount, market) are merged into executions (same order and block), then
//! walked in time order keeping the signed position, entry price, and the cumulative realized
//! PnL, fee and cost basis of the current position's life. Arithmetic follows big.js as the
//! reference uses it: sums and products exact, quotients rounded half-up to 20 decimals.

use std::collections::HashMap;

use indexer_domain::Decimal;
use num_bigint::{BigInt, Sign};
use serde::Serialize;
use sqlx::{PgPool, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::json::{IsoTime, Numeric};
use crate::markets::MarketsSnapshot;
use crate::page::Pagination;
use crate::QueryError;

/// More fills than this and the request fails (the reference's guard).
pub const MAX_FILLS: i64 = 100_000;
/// big.js `Big.DP`: decimals kept by a division.
const DIVISION_DECIMALS: i64 = 20;

/// `TradeHistoryResponseObject`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TradeHistoryResponseObject)]
pub struct TradeHistoryRow {
    pub id: String,
    pub subaccount_number: i32,
    pub action: String,
    pub execution_price: Numeric,
    pub entry_price: Numeric,
    #[schema(schema_with = crate::json::enums::order_side)]
    pub side: String,
    pub position_side: Option<String>,
    /// Absolute position before the execution.
    pub prev_size: Numeric,
    /// Signed by side; for the opening half of a crossing, the new signed position.
    pub additional_size: Numeric,
    pub value: Numeric,
    pub order_type: Option<String>,
    pub net_fee: Numeric,
    pub net_realized_pnl: Numeric,
    pub net_realized_pnl_percent: Option<Numeric>,
    pub time: IsoTime,
    pub order_id: Option<Uuid>,
    pub market_id: String,
    #[schema(schema_with = crate::json::enums::perpetual_market_type)]
    pub margin_mode: String,
}

/// `{"tradeHistory": [...], "pageSize", "totalResults", "offset"}` (always paged).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TradeHistoryResponse {
    pub trade_history: Vec<TradeHistoryRow>,
    pub page_size: u32,
    pub total_results: usize,
    pub offset: u64,
}

/// One fill as the computation needs it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
pub struct HistoryFill {
    pub id: Uuid,
    pub subaccount_id: Uuid,
    pub side: String,
    pub clob_pair_id: i64,
    pub size: Numeric,
    pub price: Numeric,
    pub fee: String,
    pub created_at: IsoTime,
    pub created_at_height: i64,
    pub order_id: Option<Uuid>,
}

/// Market of a clob pair: ticker and margin mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryMarket {
    pub ticker: String,
    pub margin_mode: String,
}

/// Fills of the subaccounts in `numbers` (optionally of one clob pair), the rows, sorted and
/// paged in memory.
pub async fn trade_history(
    pool: &PgPool,
    markets: &MarketsSnapshot,
    numbers: &HashMap<Uuid, i32>,
    clob_pair_id: Option<i64>,
    pagination: Pagination,
) -> Result<TradeHistoryResponse, QueryError> {
    let ids: Vec<Uuid> = numbers.keys().copied().collect();
    let mut query = QueryBuilder::new(
        r#"SELECT id, "subaccountId", side, "clobPairId", size, price, fee, "createdAt",
                  "createdAtHeight", "orderId"
           FROM fills WHERE "subaccountId" = ANY("#,
    );
    query.push_bind(ids).push(")");
    if let Some(clob_pair_id) = clob_pair_id {
        query
            .push(r#" AND "clobPairId" = "#)
            .push_bind(clob_pair_id);
    }
    query.push(r#" ORDER BY "createdAt" ASC, "eventId" ASC LIMIT "#);
    query.push_bind(MAX_FILLS + 1);
    let fills: Vec<HistoryFill> = query.build_query_as().fetch_all(pool).await?;
    if fills.len() as i64 > MAX_FILLS {
        return Err(QueryError::Inconsistent(format!(
            "more than {MAX_FILLS} fills for trade history"
        )));
    }
    let mut order_ids: Vec<Uuid> = fills.iter().filter_map(|f| f.order_id).collect();
    order_ids.sort_unstable();
    order_ids.dedup();
    let order_types: HashMap<Uuid, String> =
        sqlx::query_as::<_, (Uuid, String)>("SELECT id, type FROM orders WHERE id = ANY($1)")
            .bind(&order_ids)
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let market_of = |clob_pair_id: i64| {
        markets
            .by_clob_pair_id(clob_pair_id)
            .map(|m| HistoryMarket {
                ticker: m.ticker.clone(),
                margin_mode: m.market_type.clone(),
            })
    };
    let rows = compute_trade_history(&fills, &order_types, market_of, numbers)?;
    Ok(paginate(rows, pagination))
}

/// Sorted (time descending, then id descending) and cut to one page.
fn paginate(rows: Vec<TradeHistoryRow>, pagination: Pagination) -> TradeHistoryResponse {
    let total_results = rows.len();
    let offset = pagination.offset();
    let trade_history = rows
        .into_iter()
        .skip(offset as usize)
        .take(pagination.limit as usize)
        .collect();
    TradeHistoryResponse {
        trade_history,
        page_size: pagination.limit,
        total_results,
        offset,
    }
}

/// One execution: the fills of one order in one block, or one order-less (liquidation) fill.
struct Execution {
    id: String,
    order_id: Option<Uuid>,
    side: String,
    size: Decimal,
    weighted_price: Decimal,
    fee: Decimal,
    liquidation: bool,
    time: IsoTime,
}

/// Running state of one (subaccount, market).
#[derive(Default)]
struct Lifecycle {
    position: Decimal,
    entry_price: Decimal,
    pnl: Decimal,
    fee: Decimal,
    cost_basis: Decimal,
}

impl Lifecycle {
    fn reset(&mut self) {
        self.pnl = Decimal::zero();
        self.fee = Decimal::zero();
        self.cost_basis = Decimal::zero();
    }

    fn pnl_percent(&self) -> Option<Numeric> {
        (!self.cost_basis.is_zero())
            .then(|| Numeric::computed(big_div(&self.pnl, &self.cost_basis)))
    }
}

/// The rows of every (subaccount, market), time descending, ties by id descending.
pub fn compute_trade_history(
    fills: &[HistoryFill],
    order_types: &HashMap<Uuid, String>,
    market_of: impl Fn(i64) -> Option<HistoryMarket>,
    numbers: &HashMap<Uuid, i32>,
) -> Result<Vec<TradeHistoryRow>, QueryError> {
    let mut groups: Vec<((Uuid, i64), Vec<&HistoryFill>)> = Vec::new();
    for fill in fills {
        let key = (fill.subaccount_id, fill.clob_pair_id);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, group)) => group.push(fill),
            None => groups.push((key, vec![fill])),
        }
    }
    let mut rows = Vec::new();
    for ((subaccount, clob_pair_id), group) in groups {
        let Some(market) = market_of(clob_pair_id) else {
            continue;
        };
        let number = numbers.get(&subaccount).copied().unwrap_or_default();
        let mut state = Lifecycle::default();
        for execution in executions(&group)? {
            rows.extend(walk(&mut state, &execution, &market, number, order_types));
        }
    }
    rows.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| b.id.cmp(&a.id)));
    Ok(rows)
}

fn decimal(text: &str) -> Result<Decimal, QueryError> {
    Decimal::parse(text).map_err(|_| QueryError::Inconsistent(format!("fill amount {text:?}")))
}

/// Merges fills of the same order and block, in order of their first fill.
fn executions(fills: &[&HistoryFill]) -> Result<Vec<Execution>, QueryError> {
    let mut executions: Vec<Execution> = Vec::new();
    let mut by_order: HashMap<(Uuid, i64), usize> = HashMap::new();
    for fill in fills {
        let size = fill.size.decimal().clone();
        let fee = decimal(&fill.fee)?;
        let weighted = fill.price.decimal() * &size;
        let existing = fill
            .order_id
            .and_then(|order| by_order.get(&(order, fill.created_at_height)).copied());
        match existing {
            Some(index) => {
                let execution = &mut executions[index];
                execution.size = &execution.size + &size;
                execution.weighted_price = &execution.weighted_price + &weighted;
                execution.fee = &execution.fee + &fee;
                execution.time = execution.time.max(fill.created_at);
            }
            None => {
                if let Some(order) = fill.order_id {
                    by_order.insert((order, fill.created_at_height), executions.len());
                }
                executions.push(Execution {
                    id: match fill.order_id {
                        Some(order) => format!("{order}:{}", fill.created_at_height),
                        None => fill.id.to_string(),
                    },
                    order_id: fill.order_id,
                    side: fill.side.clone(),
                    size,
                    weighted_price: weighted,
                    fee,
                    liquidation: fill.order_id.is_none(),
                    time: fill.created_at,
                });
            }
        }
    }
    Ok(executions)
}

/// Applies one execution; one row, or two when the position crosses zero.
fn walk(
    state: &mut Lifecycle,
    execution: &Execution,
    market: &HistoryMarket,
    number: i32,
    order_types: &HashMap<Uuid, String>,
) -> Vec<TradeHistoryRow> {
    let price = big_div(&execution.weighted_price, &execution.size);
    let buy = execution.side == "BUY";
    let delta = if buy {
        execution.size.clone()
    } else {
        -&execution.size
    };
    let before = state.position.clone();
    let after = &before + &delta;
    let row = |id: String,
               action: &str,
               state: &Lifecycle,
               prev: Decimal,
               additional: Decimal,
               size: &Decimal,
               position: &Decimal| TradeHistoryRow {
        id,
        subaccount_number: number,
        action: action.to_owned(),
        execution_price: Numeric::computed(price.clone()),
        entry_price: Numeric::computed(state.entry_price.clone()),
        side: execution.side.clone(),
        position_side: side_of(position),
        prev_size: Numeric::computed(prev),
        additional_size: Numeric::computed(additional),
        value: Numeric::computed(size * &price),
        order_type: execution
            .order_id
            .and_then(|id| order_types.get(&id).cloned()),
        net_fee: Numeric::computed(state.fee.clone()),
        net_realized_pnl: Numeric::computed(state.pnl.clone()),
        net_realized_pnl_percent: state.pnl_percent(),
        time: execution.time,
        order_id: execution.order_id,
        market_id: market.ticker.clone(),
        margin_mode: market.margin_mode.clone(),
    };
    let crosses =
        !before.is_zero() && !after.is_zero() && (before.is_positive() != after.is_positive());
    if crosses {
        let closing = before.abs();
        let opening = after.abs();
        let close_fee = big_div(&(&execution.fee * &closing), &execution.size);
        state.pnl =
            &state.pnl + &closing_pnl(before.is_positive(), &closing, &price, &state.entry_price);
        state.cost_basis = &state.cost_basis + &(&state.entry_price * &closing);
        state.fee = &state.fee + &close_fee;
        let signed_closing = if buy { closing.clone() } else { -&closing };
        let close = row(
            format!("{}:close", execution.id),
            if execution.liquidation {
                "LIQUIDATION_CLOSE"
            } else {
                "CLOSE"
            },
            state,
            closing.clone(),
            signed_closing,
            &closing,
            &Decimal::zero(),
        );
        state.reset();
        state.fee = &execution.fee - &close_fee;
        state.position = after.clone();
        state.entry_price = price.clone();
        let open = row(
            format!("{}:open", execution.id),
            "OPEN",
            state,
            Decimal::zero(),
            after.clone(),
            &opening,
            &after,
        );
        return vec![close, open];
    }

    let flat_before = before.is_zero();
    let flat_after = after.is_zero();
    let reducing = !flat_before && after.abs() < before.abs();
    let action = match (flat_before, flat_after, reducing, execution.liquidation) {
        (true, _, _, _) => "OPEN",
        (false, true, _, true) => "LIQUIDATION_CLOSE",
        (false, true, _, false) => "CLOSE",
        (false, false, true, true) => "LIQUIDATION_PARTIAL_CLOSE",
        (false, false, true, false) => "PARTIAL_CLOSE",
        (false, false, false, _) => "EXTEND",
    };
    if reducing || flat_after {
        let closing = if flat_after {
            before.abs()
        } else {
            before.abs() - after.abs()
        };
        state.pnl =
            &state.pnl + &closing_pnl(before.is_positive(), &closing, &price, &state.entry_price);
        state.cost_basis = &state.cost_basis + &(&state.entry_price * &closing);
    }
    state.fee = &state.fee + &execution.fee;
    if flat_before {
        state.entry_price = price.clone();
    } else if !reducing && !flat_after {
        let value = &(&state.entry_price * &before.abs()) + &(&price * &execution.size);
        state.entry_price = big_div(&value, &after.abs());
    }
    let single = row(
        execution.id.clone(),
        action,
        state,
        before.abs(),
        delta,
        &execution.size,
        &after,
    );
    state.position = after;
    if flat_after {
        state.reset();
        state.entry_price = Decimal::zero();
    }
    vec![single]
}

fn side_of(position: &Decimal) -> Option<String> {
    if position.is_positive() {
        Some("LONG".to_owned())
    } else if position.is_negative() {
        Some("SHORT".to_owned())
    } else {
        None
    }
}

/// Long: (price − entry) × amount; short: (entry − price) × amount.
fn closing_pnl(long: bool, amount: &Decimal, price: &Decimal, entry: &Decimal) -> Decimal {
    if long {
        &(price - entry) * amount
    } else {
        &(entry - price) * amount
    }
}

/// big.js division: rounded half away from zero to 20 decimals, trailing zeros dropped.
pub fn big_div(dividend: &Decimal, divisor: &Decimal) -> Decimal {
    if divisor.is_zero() {
        return Decimal::zero();
    }
    let (a, scale_a) = integer_and_scale(dividend);
    let (b, scale_b) = integer_and_scale(divisor);
    // a/10^sa ÷ b/10^sb, scaled by 10^20: a × 10^(sb + 20) / (b × 10^sa).
    let numerator = a * pow10(scale_b + DIVISION_DECIMALS);
    let denominator = b * pow10(scale_a);
    let quotient = &numerator / &denominator;
    let remainder = &numerator % &denominator;
    let remainder_magnitude = BigInt::from(remainder.magnitude().clone());
    let rounded = if remainder_magnitude * 2 >= BigInt::from(denominator.magnitude().clone()) {
        let away = if (numerator.sign() == Sign::Minus) != (denominator.sign() == Sign::Minus) {
            -1
        } else {
            1
        };
        quotient + away
    } else {
        quotient
    };
    Decimal::from_scaled(rounded, -DIVISION_DECIMALS).trim()
}

fn integer_and_scale(value: &Decimal) -> (BigInt, i64) {
    let (digits, scale) = value.as_bigdecimal().as_bigint_and_exponent();
    (digits, scale)
}

fn pow10(exponent: i64) -> BigInt {
    BigInt::from(10).pow(u32::try_from(exponent).expect("small non-negative exponent"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    struct Builder {
        fills: Vec<HistoryFill>,
        subaccount: Uuid,
    }

    impl Builder {
        fn new() -> Self {
            Self {
                fills: Vec::new(),
                subaccount: Uuid::from_u128(1),
            }
        }

        fn fill(
            &mut self,
            side: &str,
            size: &str,
            price: &str,
            fee: &str,
            order: Option<u128>,
        ) -> &mut Self {
            let n = self.fills.len() as i64 + 1;
            self.fills.push(HistoryFill {
                id: Uuid::from_u128(1000 + n as u128),
                subaccount_id: self.subaccount,
                side: side.to_owned(),
                clob_pair_id: 0,
                size: Numeric::stored(d(size)),
                price: Numeric::stored(d(price)),
                fee: fee.to_owned(),
                created_at: IsoTime(Utc.timestamp_opt(1_704_067_200 + 60 * n, 0).unwrap()),
                created_at_height: n,
                order_id: order.map(Uuid::from_u128),
            });
            self
        }

        fn rows(&self) -> Vec<TradeHistoryRow> {
            let market = |_| {
                Some(HistoryMarket {
                    ticker: "BTC-USD".to_owned(),
                    margin_mode: "CROSS".to_owned(),
                })
            };
            let numbers = HashMap::from([(self.subaccount, 0)]);
            compute_trade_history(&self.fills, &HashMap::new(), market, &numbers).unwrap()
        }
    }

    fn text(value: &Numeric) -> String {
        value.to_string()
    }

    #[test]
    fn open_extend_and_partial_close_track_entry_pnl_and_fees() {
        let rows = Builder::new()
            .fill("BUY", "5", "100", "0.5", Some(1))
            .fill("BUY", "5", "110", "0.5", Some(2))
            .fill("SELL", "4", "120", "0.4", Some(3))
            .rows();
        assert_eq!(rows.len(), 3);
        let (partial, extend, open) = (&rows[0], &rows[1], &rows[2]);
        assert_eq!(open.action, "OPEN");
        assert_eq!(text(&open.entry_price), "100");
        assert_eq!(open.net_realized_pnl_percent, None);
        assert_eq!(extend.action, "EXTEND");
        assert_eq!(text(&extend.entry_price), "105");
        assert_eq!(text(&extend.net_fee), "1");
        assert_eq!(partial.action, "PARTIAL_CLOSE");
        assert_eq!(text(&partial.prev_size), "10");
        assert_eq!(text(&partial.additional_size), "-4");
        // (120 − 105) × 4 = 60 over a cost basis of 105 × 4 = 420.
        assert_eq!(text(&partial.net_realized_pnl), "60");
        assert_eq!(
            text(partial.net_realized_pnl_percent.as_ref().unwrap()),
            "0.14285714285714285714"
        );
        assert_eq!(partial.position_side.as_deref(), Some("LONG"));
        assert_eq!(partial.id, format!("{}:3", Uuid::from_u128(3)));
    }

    #[test]
    fn crossing_zero_closes_then_opens_with_the_fee_split_by_size() {
        let rows = Builder::new()
            .fill("BUY", "5", "100", "0.5", Some(1))
            .fill("SELL", "10", "120", "1", Some(2))
            .rows();
        assert_eq!(rows.len(), 3);
        let (open, close) = (&rows[0], &rows[1]);
        let base = format!("{}:2", Uuid::from_u128(2));
        assert_eq!(open.id, format!("{base}:open"));
        assert_eq!(close.id, format!("{base}:close"));
        assert_eq!(close.action, "CLOSE");
        assert_eq!(text(&close.additional_size), "-5");
        assert_eq!(close.position_side, None);
        assert_eq!(text(&close.net_realized_pnl), "100");
        assert_eq!(
            text(close.net_realized_pnl_percent.as_ref().unwrap()),
            "0.2"
        );
        assert_eq!(text(&close.net_fee), "1");
        assert_eq!(open.action, "OPEN");
        assert_eq!(text(&open.additional_size), "-5");
        assert_eq!(open.position_side.as_deref(), Some("SHORT"));
        assert_eq!(text(&open.net_fee), "0.5");
        assert_eq!(text(&open.net_realized_pnl), "0");
        assert_eq!(text(&open.entry_price), "120");
    }

    #[test]
    fn liquidations_use_the_fill_id_and_reset_after_a_full_close() {
        let rows = Builder::new()
            .fill("BUY", "5", "100", "0.5", Some(1))
            .fill("SELL", "5", "80", "0.4", None)
            .fill("BUY", "3", "130", "0.3", Some(3))
            .rows();
        let (reopen, liquidation) = (&rows[0], &rows[1]);
        assert_eq!(liquidation.action, "LIQUIDATION_CLOSE");
        assert_eq!(liquidation.id, Uuid::from_u128(1002).to_string());
        assert_eq!(liquidation.order_id, None);
        assert_eq!(text(&liquidation.net_realized_pnl), "-100");
        assert_eq!(
            text(liquidation.net_realized_pnl_percent.as_ref().unwrap()),
            "-0.2"
        );
        assert_eq!(reopen.action, "OPEN");
        assert_eq!(text(&reopen.net_fee), "0.3");
        assert_eq!(text(&reopen.net_realized_pnl), "0");
    }

    #[test]
    fn fills_of_one_order_in_one_block_merge_with_a_weighted_price() {
        let mut builder = Builder::new();
        builder.fill("BUY", "2", "100", "0.2", Some(1));
        builder.fill("BUY", "3", "110", "0.3", Some(1));
        builder.fills[1].created_at_height = 1;
        let rows = builder.rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(text(&rows[0].execution_price), "106");
        assert_eq!(text(&rows[0].value), "530");
        assert_eq!(text(&rows[0].net_fee), "0.5");
        assert_eq!(
            rows[0].time, builder.fills[1].created_at,
            "the latest fill's time"
        );
    }

    #[test]
    fn big_js_division_rounds_half_up_at_20_decimals() {
        assert_eq!(
            big_div(&d("1"), &d("3")).to_string(),
            "0.33333333333333333333"
        );
        assert_eq!(
            big_div(&d("2"), &d("3")).to_string(),
            "0.66666666666666666667"
        );
        assert_eq!(
            big_div(&d("-2"), &d("3")).to_string(),
            "-0.66666666666666666667"
        );
        assert_eq!(big_div(&d("530"), &d("5")).to_string(), "106");
        assert_eq!(big_div(&d("0.5"), &d("0.25")).to_string(), "2");
    }
}
