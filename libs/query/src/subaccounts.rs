//! Subaccounts and their positions (serve.md §3.2–§3.4, §3.8, §4.3.1–§4.3.5): equity, free
//! collateral, unsettled funding and unrealized PnL computed exactly as the reference does.
//!
//! Every endpoint reads its rows inside one `REPEATABLE READ READ ONLY` transaction, so the
//! positions, balances, oracle prices, funding indexes and `latestProcessedBlockHeight` of one
//! response all describe the same database state (the reference reads them with independent
//! queries).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use indexer_domain::{ids::subaccount_uuid, Decimal};
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::funding::{funding_index_maps, unsettled_funding, FundingIndexMap};
use crate::json::{IntString, IsoTime, Numeric, OrderedMap};
use crate::markets::MarketsSnapshot;
use crate::sql::push_created_before_or_at;
use crate::QueryError;

/// Symbol and asset id of the quote asset, whose balance absorbs unsettled funding.
pub const USDC_SYMBOL: &str = "USDC";
pub const USDC_ASSET_ID: &str = "0";

/// Parent subaccounts are 0…127; child `i` of parent `p` is `p + 128·i` for i = 0…999.
pub const MAX_PARENT_SUBACCOUNTS: u32 = 128;
pub const CHILD_SUBACCOUNT_MULTIPLIER: u32 = 1000;

/// The subaccounts an account endpoint reads: one, or every child of a parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubaccountSelector {
    Single { address: String, number: u32 },
    Parent { address: String, parent: u32 },
}

impl SubaccountSelector {
    pub fn address(&self) -> &str {
        match self {
            Self::Single { address, .. } | Self::Parent { address, .. } => address,
        }
    }

    /// The candidate subaccount ids: the one subaccount, or all 1000 possible children (resolved
    /// to concrete UUIDs up front, which keeps Postgres on the id indexes).
    pub fn subaccount_ids(&self) -> Vec<Uuid> {
        match self {
            Self::Single { address, number } => vec![subaccount_uuid(address, *number)],
            Self::Parent { address, parent } => child_subaccount_numbers(*parent)
                .map(|number| subaccount_uuid(address, number))
                .collect(),
        }
    }

    /// The 404 text when the subaccount (or no child) exists.
    pub fn not_found(&self) -> String {
        match self {
            Self::Single { address, number } => subaccount_not_found(address, *number),
            Self::Parent { address, parent } => format!(
                "No subaccount found with address {address} and parentSubaccountNumber {parent}"
            ),
        }
    }
}

/// Child numbers of a parent, the parent itself first.
pub fn child_subaccount_numbers(parent: u32) -> impl Iterator<Item = u32> {
    (0..CHILD_SUBACCOUNT_MULTIPLIER).map(move |i| parent + MAX_PARENT_SUBACCOUNTS * i)
}

/// `No subaccount found with address {a} and subaccountNumber {n}`.
pub fn subaccount_not_found(address: &str, number: u32) -> String {
    format!("No subaccount found with address {address} and subaccountNumber {number}")
}

/// `AssetPositionResponseObject` (§3.2).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AssetPositionResponseObject)]
pub struct AssetPosition {
    pub symbol: String,
    #[schema(schema_with = crate::json::enums::position_side)]
    pub side: String,
    /// Absolute size.
    pub size: Numeric,
    pub asset_id: String,
    pub subaccount_number: i32,
}

/// `PerpetualPositionResponseObject` (§3.3).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PerpetualPositionResponseObject)]
pub struct PerpetualPosition {
    pub market: String,
    #[schema(schema_with = crate::json::enums::perpetual_position_status)]
    pub status: String,
    #[schema(schema_with = crate::json::enums::position_side)]
    pub side: String,
    /// Signed: negative for shorts.
    pub size: Numeric,
    pub max_size: Numeric,
    pub entry_price: Numeric,
    pub realized_pnl: Numeric,
    pub created_at: IsoTime,
    pub created_at_height: IntString,
    pub sum_open: Numeric,
    pub sum_close: Numeric,
    /// Settled plus unsettled funding (unsettled is 0 unless the position is open).
    pub net_funding: Numeric,
    pub unrealized_pnl: Numeric,
    pub closed_at: Option<IsoTime>,
    pub exit_price: Option<Numeric>,
    pub subaccount_number: i32,
}

/// `SubaccountResponseObject` (§3.4).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SubaccountResponseObject)]
pub struct Subaccount {
    pub address: String,
    pub subaccount_number: i32,
    pub equity: Numeric,
    pub free_collateral: Numeric,
    #[schema(value_type = HashMap<String, PerpetualPosition>)]
    pub open_perpetual_positions: OrderedMap<PerpetualPosition>,
    #[schema(value_type = HashMap<String, AssetPosition>)]
    pub asset_positions: OrderedMap<AssetPosition>,
    pub margin_enabled: bool,
    pub updated_at_height: IntString,
    pub latest_processed_block_height: IntString,
}

/// `GET /v4/addresses/{address}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddressResponse {
    pub subaccounts: Vec<Subaccount>,
    pub total_trading_rewards: Numeric,
}

/// `GET /v4/addresses/{address}/parentSubaccountNumber/{n}`: the sums over the children.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParentSubaccount {
    pub address: String,
    pub parent_subaccount_number: u32,
    pub equity: Numeric,
    pub free_collateral: Numeric,
    pub child_subaccounts: Vec<Subaccount>,
}

/// `{"subaccount": SubaccountResponseObject}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SubaccountResponse {
    pub subaccount: Subaccount,
}

/// `{"subaccount": {address, parentSubaccountNumber, equity, freeCollateral, childSubaccounts}}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ParentSubaccountResponse {
    pub subaccount: ParentSubaccount,
}

/// `{"positions": [AssetPositionResponseObject...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AssetPositionsResponse {
    pub positions: Vec<AssetPosition>,
}

/// `{"positions": [PerpetualPositionResponseObject...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PerpetualPositionsResponse {
    pub positions: Vec<PerpetualPosition>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
struct SubaccountRow {
    id: Uuid,
    address: String,
    subaccount_number: i32,
    updated_at_height: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
struct PositionRow {
    subaccount_id: Uuid,
    perpetual_id: i64,
    side: String,
    status: String,
    size: Numeric,
    max_size: Numeric,
    entry_price: Numeric,
    exit_price: Option<Numeric>,
    sum_open: Numeric,
    sum_close: Numeric,
    created_at: IsoTime,
    closed_at: Option<IsoTime>,
    created_at_height: IntString,
    last_event_id: Vec<u8>,
    settled_funding: Numeric,
    total_realized_pnl: Option<Numeric>,
}

const POSITION_COLUMNS: &str = r#"SELECT "subaccountId", "perpetualId", side, status, size,
    "maxSize", "entryPrice", "exitPrice", "sumOpen", "sumClose", "createdAt", "closedAt",
    "createdAtHeight", "lastEventId", "settledFunding", "totalRealizedPnl"
    FROM perpetual_positions"#;

#[derive(Debug, Clone, sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
struct AssetPositionRow {
    subaccount_id: Uuid,
    asset_id: String,
    size: Numeric,
    is_long: bool,
    symbol: String,
}

/// Oracle prices by market id (`None`: the market has no price yet).
type OraclePrices = HashMap<i32, Option<Decimal>>;

/// Everything the derived values of a set of subaccounts depend on, read in one snapshot.
struct AccountState {
    latest_height: i64,
    open_positions: HashMap<Uuid, Vec<PositionRow>>,
    asset_positions: HashMap<Uuid, Vec<AssetPositionRow>>,
    oracle_prices: OraclePrices,
    funding: HashMap<i64, FundingIndexMap>,
}

impl AccountState {
    async fn load(
        conn: &mut PgConnection,
        markets: &MarketsSnapshot,
        subaccounts: &[SubaccountRow],
        latest_height: i64,
    ) -> Result<Self, QueryError> {
        let ids: Vec<Uuid> = subaccounts.iter().map(|s| s.id).collect();
        let open: Vec<PositionRow> = sqlx::query_as(&format!(
            r#"{POSITION_COLUMNS} WHERE "subaccountId" = ANY($1) AND status = 'OPEN'"#
        ))
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        let assets: Vec<AssetPositionRow> = sqlx::query_as(
            r#"SELECT ap."subaccountId", ap."assetId", ap.size, ap."isLong", a.symbol
               FROM asset_positions ap JOIN assets a ON a.id = ap."assetId"
               WHERE ap."subaccountId" = ANY($1)
               ORDER BY length(ap."assetId"), ap."assetId""#,
        )
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        let oracle_prices = oracle_prices(&mut *conn, markets, &open).await?;
        let mut heights: Vec<i64> = subaccounts.iter().map(|s| s.updated_at_height).collect();
        heights.push(latest_height);
        let funding = funding_index_maps(&mut *conn, &heights).await?;
        Ok(Self {
            latest_height,
            open_positions: group_by_subaccount(open, |p| p.subaccount_id),
            asset_positions: group_by_subaccount(assets, |a| a.subaccount_id),
            oracle_prices,
            funding,
        })
    }

    fn funding_at(&self, height: i64) -> &FundingIndexMap {
        self.funding
            .get(&height)
            .expect("funding maps are loaded for every height asked for")
    }

    /// The response object of one subaccount (§3.4 with the formulas of §3.8).
    fn subaccount(
        &self,
        markets: &MarketsSnapshot,
        row: &SubaccountRow,
    ) -> Result<Subaccount, QueryError> {
        let last_updated = self.funding_at(row.updated_at_height);
        let latest = self.funding_at(self.latest_height);
        let open = self
            .open_positions
            .get(&row.id)
            .map_or(&[][..], Vec::as_slice);
        let total_unsettled: Decimal = open
            .iter()
            .map(|p| unsettled_funding(p.size.decimal(), p.perpetual_id, last_updated, latest))
            .sum();

        let mut equity = Decimal::zero();
        let mut initial_risk = Decimal::zero();
        let mut open_map = Vec::new();
        for position in latest_position_per_market(open) {
            let market = market_of(markets, position.perpetual_id)?;
            let price = self.oracle_price(market.market_id).ok_or_else(|| {
                QueryError::Inconsistent(format!("market {} has no oracle price", market.ticker))
            })?;
            let notional = position.size.decimal() * &price;
            let tier = markets
                .liquidity_tier(market.liquidity_tier_id)
                .ok_or_else(|| {
                    QueryError::Inconsistent(format!(
                        "liquidity tier {} of {} is unknown",
                        market.liquidity_tier_id, market.ticker
                    ))
                })?;
            initial_risk = initial_risk + notional.abs() * tier.initial_margin_fraction();
            equity = equity + notional;
            let unsettled = unsettled_funding(
                position.size.decimal(),
                position.perpetual_id,
                last_updated,
                latest,
            );
            let response =
                self.position_response(markets, position, unsettled, row.subaccount_number)?;
            open_map.push((response.market.clone(), response));
        }

        let (asset_positions, adjusted_usdc) = adjusted_asset_positions(
            self.asset_positions
                .get(&row.id)
                .map_or(&[][..], Vec::as_slice),
            row.subaccount_number,
            &total_unsettled,
        );
        equity = equity + adjusted_usdc;
        let free_collateral = &equity - &initial_risk;
        Ok(Subaccount {
            address: row.address.clone(),
            subaccount_number: row.subaccount_number,
            equity: Numeric::computed(equity),
            free_collateral: Numeric::computed(free_collateral),
            open_perpetual_positions: OrderedMap(open_map),
            asset_positions: OrderedMap(asset_positions),
            margin_enabled: true,
            updated_at_height: IntString(row.updated_at_height),
            latest_processed_block_height: IntString(self.latest_height),
        })
    }

    fn oracle_price(&self, market_id: i32) -> Option<Decimal> {
        self.oracle_prices.get(&market_id).cloned().flatten()
    }

    fn position_response(
        &self,
        markets: &MarketsSnapshot,
        row: &PositionRow,
        unsettled: Decimal,
        subaccount_number: i32,
    ) -> Result<PerpetualPosition, QueryError> {
        let market = market_of(markets, row.perpetual_id)?;
        let unrealized = self
            .oracle_price(market.market_id)
            .map(|price| row.size.decimal() * &(price - row.entry_price.decimal()))
            .unwrap_or_default();
        Ok(PerpetualPosition {
            market: market.ticker.clone(),
            status: row.status.clone(),
            side: row.side.clone(),
            size: row.size.clone(),
            max_size: row.max_size.clone(),
            entry_price: Numeric::computed(row.entry_price.decimal().clone()),
            realized_pnl: row.total_realized_pnl.clone().unwrap_or_else(Numeric::zero),
            created_at: row.created_at,
            created_at_height: row.created_at_height,
            sum_open: row.sum_open.clone(),
            sum_close: row.sum_close.clone(),
            net_funding: Numeric::computed(row.settled_funding.decimal() + &unsettled),
            unrealized_pnl: Numeric::computed(unrealized),
            closed_at: row.closed_at,
            exit_price: row
                .exit_price
                .as_ref()
                .map(|price| Numeric::computed(price.decimal().clone())),
            subaccount_number,
        })
    }
}

fn market_of(
    markets: &MarketsSnapshot,
    perpetual_id: i64,
) -> Result<&crate::markets::PerpetualMarketInfo, QueryError> {
    markets
        .by_id(perpetual_id)
        .map(AsRef::as_ref)
        .ok_or_else(|| QueryError::Inconsistent(format!("perpetual {perpetual_id} is unknown")))
}

fn group_by_subaccount<T>(rows: Vec<T>, key: impl Fn(&T) -> Uuid) -> HashMap<Uuid, Vec<T>> {
    let mut groups: HashMap<Uuid, Vec<T>> = HashMap::new();
    for row in rows {
        groups.entry(key(&row)).or_default().push(row);
    }
    groups
}

/// One open position per market: the one with the latest `lastEventId`, latest first.
fn latest_position_per_market(positions: &[PositionRow]) -> Vec<&PositionRow> {
    let mut sorted: Vec<&PositionRow> = positions.iter().collect();
    sorted.sort_by(|a, b| b.last_event_id.cmp(&a.last_event_id));
    let mut seen = HashSet::new();
    sorted.retain(|p| seen.insert(p.perpetual_id));
    sorted
}

async fn oracle_prices(
    conn: &mut PgConnection,
    markets: &MarketsSnapshot,
    positions: &[PositionRow],
) -> Result<OraclePrices, QueryError> {
    let mut market_ids: Vec<i32> = positions
        .iter()
        .filter_map(|p| markets.by_id(p.perpetual_id).map(|m| m.market_id))
        .collect();
    market_ids.sort_unstable();
    market_ids.dedup();
    if market_ids.is_empty() {
        return Ok(OraclePrices::new());
    }
    let rows: Vec<(i32, Option<Numeric>)> =
        sqlx::query_as(r#"SELECT id, "oraclePrice" FROM markets WHERE id = ANY($1)"#)
            .bind(&market_ids)
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, price)| (id, price.map(Numeric::into_decimal)))
        .collect())
}

fn asset_position_response(row: &AssetPositionRow, subaccount_number: i32) -> AssetPosition {
    AssetPosition {
        symbol: row.symbol.clone(),
        side: if row.is_long { "LONG" } else { "SHORT" }.to_owned(),
        size: row.size.clone(),
        asset_id: row.asset_id.clone(),
        subaccount_number,
    }
}

/// Non-zero asset positions keyed by symbol with USDC adjusted by the unsettled funding
/// (§3.8 item 3), and the signed adjusted USDC balance.
fn adjusted_asset_positions(
    rows: &[AssetPositionRow],
    subaccount_number: i32,
    unsettled: &Decimal,
) -> (Vec<(String, AssetPosition)>, Decimal) {
    let mut positions: Vec<(String, AssetPosition)> = rows
        .iter()
        .filter(|row| !row.size.decimal().is_zero())
        .map(|row| {
            (
                row.symbol.clone(),
                asset_position_response(row, subaccount_number),
            )
        })
        .collect();
    let usdc_index = positions
        .iter()
        .position(|(symbol, _)| symbol == USDC_SYMBOL);
    let signed_usdc = usdc_index.map_or_else(Decimal::zero, |index| {
        let usdc = &positions[index].1;
        if usdc.side == "LONG" {
            usdc.size.decimal().clone()
        } else {
            -usdc.size.decimal()
        }
    });
    let adjusted = signed_usdc + unsettled;
    match (usdc_index, adjusted.is_zero()) {
        (Some(index), true) => {
            positions.remove(index);
        }
        (Some(index), false) => {
            let number = positions[index].1.subaccount_number;
            positions[index].1 = usdc_position(&adjusted, number);
        }
        // A balance created purely by funding is shown with subaccount number 0, whatever the
        // subaccount: the reference fills the number from the missing entry's default.
        (None, false) => positions.push((USDC_SYMBOL.to_owned(), usdc_position(&adjusted, 0))),
        (None, true) => {}
    }
    (positions, adjusted)
}

fn usdc_position(signed_size: &Decimal, subaccount_number: i32) -> AssetPosition {
    AssetPosition {
        symbol: USDC_SYMBOL.to_owned(),
        side: if signed_size.is_positive() {
            "LONG"
        } else {
            "SHORT"
        }
        .to_owned(),
        size: Numeric::computed(signed_size.abs()),
        asset_id: USDC_ASSET_ID.to_owned(),
        subaccount_number,
    }
}

/// A read-only snapshot transaction on the reader pool.
pub(crate) async fn snapshot(pool: &PgPool) -> Result<Transaction<'static, Postgres>, QueryError> {
    Ok(pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?)
}

async fn latest_height(conn: &mut PgConnection) -> Result<Option<i64>, QueryError> {
    Ok(
        sqlx::query_scalar(r#"SELECT max("blockHeight") FROM blocks"#)
            .fetch_one(conn)
            .await?,
    )
}

async fn subaccount_rows(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<SubaccountRow>, QueryError> {
    Ok(sqlx::query_as(
        r#"SELECT id, address, "subaccountNumber", "updatedAtHeight" FROM subaccounts
           WHERE id = ANY($1) ORDER BY "subaccountNumber""#,
    )
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

/// Builds the responses of `rows` (empty input → empty output).
async fn subaccount_responses(
    conn: &mut PgConnection,
    markets: &MarketsSnapshot,
    rows: &[SubaccountRow],
) -> Result<Vec<Subaccount>, QueryError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let latest = latest_height(&mut *conn).await?.unwrap_or_default();
    let state = AccountState::load(conn, markets, rows, latest).await?;
    rows.iter()
        .map(|row| state.subaccount(markets, row))
        .collect()
}

/// The response objects of those of `ids` that exist, by id, computed in the caller's snapshot
/// (the vault routes read many unrelated subaccounts at once).
pub async fn subaccount_responses_by_id(
    conn: &mut PgConnection,
    markets: &MarketsSnapshot,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Subaccount>, QueryError> {
    let rows = subaccount_rows(&mut *conn, ids).await?;
    let responses = subaccount_responses(conn, markets, &rows).await?;
    Ok(rows.iter().map(|row| row.id).zip(responses).collect())
}

/// `GET /v4/addresses/{address}/subaccountNumber/{n}`.
pub async fn subaccount(
    pool: &PgPool,
    markets: &MarketsSnapshot,
    address: &str,
    number: u32,
) -> Result<Subaccount, QueryError> {
    let mut tx = snapshot(pool).await?;
    let rows = subaccount_rows(&mut tx, &[subaccount_uuid(address, number)]).await?;
    if rows.is_empty() {
        return Err(QueryError::NotFound(subaccount_not_found(address, number)));
    }
    let mut responses = subaccount_responses(&mut tx, markets, &rows).await?;
    tx.commit().await?;
    Ok(responses.remove(0))
}

/// `GET /v4/addresses/{address}`: every subaccount of the address, by number.
pub async fn address(
    pool: &PgPool,
    markets: &MarketsSnapshot,
    address: &str,
) -> Result<AddressResponse, QueryError> {
    let mut tx = snapshot(pool).await?;
    let rows: Vec<SubaccountRow> = sqlx::query_as(
        r#"SELECT id, address, "subaccountNumber", "updatedAtHeight" FROM subaccounts
           WHERE address = $1 ORDER BY "subaccountNumber""#,
    )
    .bind(address)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Err(QueryError::NotFound(format!(
            "No subaccounts found for address {address}"
        )));
    }
    let subaccounts = subaccount_responses(&mut tx, markets, &rows).await?;
    let rewards: Option<Numeric> =
        sqlx::query_scalar(r#"SELECT "totalTradingRewards" FROM wallets WHERE address = $1"#)
            .bind(address)
            .fetch_optional(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(AddressResponse {
        subaccounts,
        total_trading_rewards: rewards.unwrap_or_else(Numeric::zero),
    })
}

/// `GET /v4/addresses/{address}/parentSubaccountNumber/{n}`.
pub async fn parent_subaccount(
    pool: &PgPool,
    markets: &MarketsSnapshot,
    address: &str,
    parent: u32,
) -> Result<ParentSubaccount, QueryError> {
    let selector = SubaccountSelector::Parent {
        address: address.to_owned(),
        parent,
    };
    let mut tx = snapshot(pool).await?;
    let rows = subaccount_rows(&mut tx, &selector.subaccount_ids()).await?;
    if rows.is_empty() {
        return Err(QueryError::NotFound(format!(
            "No subaccounts found for address {address} and parentSubaccountNumber {parent}"
        )));
    }
    let children = subaccount_responses(&mut tx, markets, &rows).await?;
    tx.commit().await?;
    let equity: Decimal = children.iter().map(|c| c.equity.decimal()).sum();
    let free_collateral: Decimal = children.iter().map(|c| c.free_collateral.decimal()).sum();
    Ok(ParentSubaccount {
        address: address.to_owned(),
        parent_subaccount_number: parent,
        equity: Numeric::computed(equity),
        free_collateral: Numeric::computed(free_collateral),
        child_subaccounts: children,
    })
}

/// `GET /v4/assetPositions` (single: 404 when the subaccount is missing) and
/// `…/parentSubaccountNumber` (concatenation over existing children; never 404). USDC is adjusted
/// by unsettled funding only when the subaccount has open perpetual positions.
pub async fn asset_positions(
    pool: &PgPool,
    markets: &MarketsSnapshot,
    selector: &SubaccountSelector,
) -> Result<Vec<AssetPosition>, QueryError> {
    let mut tx = snapshot(pool).await?;
    let rows = subaccount_rows(&mut tx, &selector.subaccount_ids()).await?;
    if rows.is_empty() {
        return match selector {
            SubaccountSelector::Single { .. } => Err(QueryError::NotFound(selector.not_found())),
            SubaccountSelector::Parent { .. } => Ok(Vec::new()),
        };
    }
    let latest = latest_height(&mut tx).await?.unwrap_or_default();
    let state = AccountState::load(&mut tx, markets, &rows, latest).await?;
    tx.commit().await?;
    let mut positions = Vec::new();
    for row in &rows {
        let stored = state
            .asset_positions
            .get(&row.id)
            .map_or(&[][..], Vec::as_slice);
        match state.open_positions.get(&row.id) {
            Some(open) if !open.is_empty() => {
                let last_updated = state.funding_at(row.updated_at_height);
                let latest = state.funding_at(state.latest_height);
                let unsettled: Decimal = open
                    .iter()
                    .map(|p| {
                        unsettled_funding(p.size.decimal(), p.perpetual_id, last_updated, latest)
                    })
                    .sum();
                let (adjusted, _) =
                    adjusted_asset_positions(stored, row.subaccount_number, &unsettled);
                positions.extend(adjusted.into_iter().map(|(_, p)| p));
            }
            _ => positions.extend(
                stored
                    .iter()
                    .filter(|a| !a.size.decimal().is_zero())
                    .map(|a| asset_position_response(a, row.subaccount_number)),
            ),
        }
    }
    Ok(positions)
}

/// Filters of `GET /v4/perpetualPositions`.
#[derive(Debug, Clone, PartialEq)]
pub struct PerpetualPositionsFilter {
    /// Position statuses to keep (empty: all).
    pub statuses: Vec<String>,
    pub limit: u32,
    pub created_before_or_at_height: Option<i64>,
    pub created_before_or_at: Option<DateTime<Utc>>,
}

/// `GET /v4/perpetualPositions` (+ parent): positions ordered by subaccount id, then newest
/// opened first; open positions carry their unsettled funding in `netFunding`.
pub async fn perpetual_positions(
    pool: &PgPool,
    markets: &MarketsSnapshot,
    selector: &SubaccountSelector,
    filter: &PerpetualPositionsFilter,
) -> Result<Vec<PerpetualPosition>, QueryError> {
    let ids = selector.subaccount_ids();
    let mut tx = snapshot(pool).await?;
    let mut query = QueryBuilder::new(POSITION_COLUMNS);
    query
        .push(r#" WHERE "subaccountId" = ANY("#)
        .push_bind(&ids)
        .push(")");
    if !filter.statuses.is_empty() {
        query
            .push(" AND status = ANY(")
            .push_bind(&filter.statuses)
            .push(")");
    }
    push_created_before_or_at(
        &mut query,
        filter.created_before_or_at_height,
        filter.created_before_or_at,
    );
    query.push(r#" ORDER BY "subaccountId" ASC, "openEventId" DESC LIMIT "#);
    query.push_bind(i64::from(filter.limit));
    let positions: Vec<PositionRow> = query.build_query_as().fetch_all(&mut *tx).await?;

    let subaccounts = subaccount_rows(&mut tx, &ids).await?;
    let latest = latest_height(&mut tx).await?;
    let has_open = positions.iter().any(|p| p.status == "OPEN");
    let (latest, numbers) = match latest {
        Some(latest) if !subaccounts.is_empty() => (latest, subaccounts_by_id(&subaccounts)),
        _ if has_open => {
            return Err(QueryError::NotFound(open_positions_without_subaccount(
                selector,
            )))
        }
        _ => (0, HashMap::new()),
    };
    let mut heights: Vec<i64> = subaccounts.iter().map(|s| s.updated_at_height).collect();
    heights.push(latest);
    let funding = if has_open {
        funding_index_maps(&mut tx, &heights).await?
    } else {
        HashMap::new()
    };
    let open_rows: Vec<PositionRow> = positions
        .iter()
        .filter(|p| p.status == "OPEN")
        .cloned()
        .collect();
    let oracle_prices = oracle_prices(&mut tx, markets, &positions).await?;
    tx.commit().await?;
    let state = AccountState {
        latest_height: latest,
        open_positions: group_by_subaccount(open_rows, |p| p.subaccount_id),
        asset_positions: HashMap::new(),
        oracle_prices,
        funding,
    };
    positions
        .iter()
        .map(|position| {
            let subaccount = numbers.get(&position.subaccount_id);
            let number = subaccount.map_or(0, |s| s.subaccount_number);
            let unsettled = match (position.status.as_str(), subaccount) {
                ("OPEN", Some(s)) => unsettled_funding(
                    position.size.decimal(),
                    position.perpetual_id,
                    state.funding_at(s.updated_at_height),
                    state.funding_at(state.latest_height),
                ),
                ("OPEN", None) => {
                    return Err(QueryError::NotFound(open_positions_without_subaccount(
                        selector,
                    )))
                }
                _ => Decimal::zero(),
            };
            state.position_response(markets, position, unsettled, number)
        })
        .collect()
}

fn subaccounts_by_id(rows: &[SubaccountRow]) -> HashMap<Uuid, SubaccountRow> {
    rows.iter().map(|row| (row.id, row.clone())).collect()
}

fn open_positions_without_subaccount(selector: &SubaccountSelector) -> String {
    match selector {
        SubaccountSelector::Single { address, number } => format!(
            "Found OPEN perpetual positions but no subaccount with address {address} and number {number}"
        ),
        SubaccountSelector::Parent { address, parent } => format!(
            "Found OPEN perpetual positions but no subaccounts with address {address} and parent Subaccount number {parent}"
        ),
    }
}

/// Whether the subaccount exists (for endpoints that 404 on a missing subaccount).
pub async fn subaccount_exists(pool: &PgPool, id: Uuid) -> Result<bool, QueryError> {
    Ok(
        sqlx::query_scalar(r#"SELECT EXISTS (SELECT 1 FROM subaccounts WHERE id = $1)"#)
            .bind(id)
            .fetch_one(pool)
            .await?,
    )
}

/// Subaccount id → number of the existing subaccounts among `ids`.
pub async fn subaccount_numbers(
    pool: &PgPool,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, i32>, QueryError> {
    let rows: Vec<(Uuid, i32)> =
        sqlx::query_as(r#"SELECT id, "subaccountNumber" FROM subaccounts WHERE id = ANY($1)"#)
            .bind(ids)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    fn usdc(size: &str, is_long: bool) -> AssetPositionRow {
        AssetPositionRow {
            subaccount_id: Uuid::nil(),
            asset_id: USDC_ASSET_ID.to_owned(),
            size: Numeric::stored(d(size)),
            is_long,
            symbol: USDC_SYMBOL.to_owned(),
        }
    }

    #[test]
    fn unsettled_funding_moves_the_usdc_balance_and_can_flip_its_side() {
        let (positions, adjusted) =
            adjusted_asset_positions(&[usdc("100.50", true)], 3, &d("-0.5"));
        assert_eq!(adjusted, d("100"));
        assert_eq!(positions[0].1.size.to_string(), "100");
        assert_eq!(positions[0].1.subaccount_number, 3);

        let (positions, adjusted) = adjusted_asset_positions(&[usdc("1", true)], 3, &d("-3"));
        assert_eq!(adjusted, d("-2"));
        assert_eq!(positions[0].1.side, "SHORT");
        assert_eq!(positions[0].1.size.to_string(), "2");
    }

    #[test]
    fn a_balance_funded_to_exactly_zero_disappears_and_one_from_nothing_appears() {
        let (positions, _) = adjusted_asset_positions(&[usdc("2", false)], 0, &d("2"));
        assert!(positions.is_empty());
        let (positions, _) = adjusted_asset_positions(&[], 129, &d("0.25"));
        assert_eq!(positions.len(), 1);
        assert_eq!(positions[0].1.side, "LONG");
        assert_eq!(positions[0].1.size.to_string(), "0.25");
        assert_eq!(positions[0].1.subaccount_number, 0, "reference quirk");
    }

    #[test]
    fn children_of_a_parent_step_by_128() {
        let numbers: Vec<u32> = child_subaccount_numbers(5).take(3).collect();
        assert_eq!(numbers, [5, 133, 261]);
        assert_eq!(child_subaccount_numbers(127).last(), Some(127 + 128 * 999));
    }
}
