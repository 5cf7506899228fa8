//! Ender's per-block writes (ingest.md §4.3, §6.1; beyond.md §1–2).
//!
//! A block's changes arrive as one [`BlockWrite`] holding the final state of every row the block
//! touched. [`write_block`] writes them inside the caller's transaction with one statement per
//! table (`INSERT … SELECT FROM UNNEST($1::…[], …)`, upserts with `ON CONFLICT`), never one round
//! trip per row, in foreign-key order, then advances `ender_progress` and appends the block's
//! outbox messages with their channel sequence numbers. Tables with no rows cost nothing.

mod enqueue;
mod outbox;
mod rows;
mod statements;

pub use enqueue::enqueue_messages;
pub use outbox::{delete_outbox_through, outbox_backlog, pending_outbox, OutboxRow};
pub use rows::*;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;

/// Everything one block writes. Upserted tables hold at most one row per primary key (the final
/// state after the whole block); append-only tables hold every new row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockWrite {
    pub block: Option<BlockRow>,
    pub transactions: Vec<TransactionRow>,
    pub tendermint_events: Vec<TendermintEventRow>,
    pub markets: Vec<MarketRow>,
    pub liquidity_tiers: Vec<LiquidityTierRow>,
    pub assets: Vec<AssetRow>,
    pub perpetual_markets: Vec<(RowChange, PerpetualMarketRow)>,
    pub subaccounts: Vec<SubaccountRow>,
    pub wallets: Vec<WalletCredit>,
    pub orders: Vec<OrderRow>,
    pub perpetual_positions: Vec<PerpetualPositionRow>,
    pub fills: Vec<FillRow>,
    pub asset_positions: Vec<AssetPositionRow>,
    pub transfers: Vec<TransferRow>,
    pub oracle_prices: Vec<OraclePriceRow>,
    pub funding_index_updates: Vec<FundingIndexUpdateRow>,
    pub trading_rewards: Vec<TradingRewardRow>,
    pub affiliate_referred_users: Vec<AffiliateReferredUserRow>,
    pub vaults: Vec<VaultRow>,
    pub candles: Vec<CandleRow>,
    pub outbox: Vec<OutboxMessage>,
}

/// What [`write_block`] reports back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteSummary {
    /// The stream epoch of this database (`ender_progress.epoch`).
    pub epoch: Uuid,
    /// Outbox rows appended.
    pub outbox_rows: usize,
}

/// Writes `write` for block `height` inside the caller's transaction: the domain rows, then the
/// progress marker (created with `start_height = height` for the first block of a database), then
/// the outbox messages with their channel sequence numbers and the epoch.
pub async fn write_block(
    conn: &mut PgConnection,
    height: i64,
    write: &BlockWrite,
) -> Result<WriteSummary, StoreError> {
    statements::write_rows(conn, write).await?;
    let epoch = advance_progress(conn, height).await?;
    let outbox_rows = statements::append_outbox(conn, height, epoch, &write.outbox).await?;
    Ok(WriteSummary { epoch, outbox_rows })
}

/// Records `height` as the last processed block (creating the progress row for the first block
/// of a database) and returns the stream epoch. Used alone when an operator skips a block.
pub async fn advance_progress(conn: &mut PgConnection, height: i64) -> Result<Uuid, StoreError> {
    let epoch: Uuid = sqlx::query_scalar(
        "INSERT INTO ender_progress (id, last_processed_height, start_height) VALUES (1, $1, $1) \
         ON CONFLICT (id) DO UPDATE SET last_processed_height = EXCLUDED.last_processed_height, \
         updated_at = now() RETURNING epoch",
    )
    .bind(height)
    .fetch_one(&mut *conn)
    .await?;
    Ok(epoch)
}
