//! The batched statements behind [`super::write_block`]: one `UNNEST` statement per table.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use uuid::Uuid;

use super::rows::*;
use super::BlockWrite;
use crate::StoreError;

/// One column of `rows` as a vector, ready to bind as a Postgres array.
fn col<T, U>(rows: &[T], f: impl Fn(&T) -> U) -> Vec<U> {
    rows.iter().map(f).collect()
}

/// Histogram of one write statement's duration, labelled by `statement` (the table, or
/// `outbox` / `channel_sequences` / `progress`): where a slow block spends its database time.
pub const STATEMENT_SECONDS: &str = "ender_sql_statement_seconds";

/// Runs one statement and records its duration under `statement`.
pub(super) async fn timed<T>(
    statement: &'static str,
    run: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = std::time::Instant::now();
    let result = run.await;
    metrics::histogram!(STATEMENT_SECONDS, "statement" => statement)
        .record(started.elapsed().as_secs_f64());
    result
}

/// Writes the domain rows in foreign-key order; a table without rows costs nothing.
pub(super) async fn write_rows(conn: &mut PgConnection, w: &BlockWrite) -> Result<(), StoreError> {
    macro_rules! table {
        ($name:ident) => {
            if !w.$name.is_empty() {
                timed(stringify!($name), $name(conn, &w.$name)).await?;
            }
        };
    }
    if let Some(block) = &w.block {
        let insert = sqlx::query(r#"INSERT INTO blocks ("blockHeight", "time") VALUES ($1, $2)"#)
            .bind(block.block_height)
            .bind(block.time)
            .execute(&mut *conn);
        timed("blocks", async { Ok(insert.await?) }).await?;
    }
    table!(transactions);
    table!(tendermint_events);
    table!(markets);
    table!(liquidity_tiers);
    table!(assets);
    table!(perpetual_markets);
    table!(subaccounts);
    table!(wallets);
    table!(orders);
    table!(perpetual_positions);
    table!(fills);
    table!(asset_positions);
    table!(transfers);
    table!(oracle_prices);
    table!(funding_index_updates);
    table!(trading_rewards);
    table!(affiliate_referred_users);
    table!(vaults);
    table!(candles);
    Ok(())
}

async fn transactions(conn: &mut PgConnection, rows: &[TransactionRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO transactions (id, "blockHeight", "transactionIndex", "transactionHash")
           SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::int[], $4::text[])"#,
    )
    .bind(col(rows, |r| r.id))
    .bind(col(rows, |r| r.block_height))
    .bind(col(rows, |r| r.transaction_index))
    .bind(col(rows, |r| r.transaction_hash.clone()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn tendermint_events(
    conn: &mut PgConnection,
    rows: &[TendermintEventRow],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO tendermint_events (id, "blockHeight", "transactionIndex", "eventIndex")
           SELECT * FROM UNNEST($1::bytea[], $2::bigint[], $3::int[], $4::int[])"#,
    )
    .bind(col(rows, |r| r.id.clone()))
    .bind(col(rows, |r| r.block_height))
    .bind(col(rows, |r| r.transaction_index))
    .bind(col(rows, |r| r.event_index))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn markets(conn: &mut PgConnection, rows: &[MarketRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO markets (id, pair, exponent, "minPriceChangePpm", "oraclePrice")
           SELECT * FROM UNNEST($1::int[], $2::text[], $3::int[], $4::int[], $5::numeric[])
           ON CONFLICT (id) DO UPDATE SET pair = EXCLUDED.pair,
             "minPriceChangePpm" = EXCLUDED."minPriceChangePpm",
             "oraclePrice" = EXCLUDED."oraclePrice""#,
    )
    .bind(col(rows, |r| r.id))
    .bind(col(rows, |r| r.pair.clone()))
    .bind(col(rows, |r| r.exponent))
    .bind(col(rows, |r| r.min_price_change_ppm))
    .bind(col(rows, |r| r.oracle_price.clone()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn liquidity_tiers(
    conn: &mut PgConnection,
    rows: &[LiquidityTierRow],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO liquidity_tiers (id, name, "initialMarginPpm", "maintenanceFractionPpm",
             "openInterestLowerCap", "openInterestUpperCap")
           SELECT * FROM UNNEST($1::int[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[])
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,
             "initialMarginPpm" = EXCLUDED."initialMarginPpm",
             "maintenanceFractionPpm" = EXCLUDED."maintenanceFractionPpm",
             "openInterestLowerCap" = EXCLUDED."openInterestLowerCap",
             "openInterestUpperCap" = EXCLUDED."openInterestUpperCap""#,
    )
    .bind(col(rows, |r| r.id))
    .bind(col(rows, |r| r.name.clone()))
    .bind(col(rows, |r| r.initial_margin_ppm))
    .bind(col(rows, |r| r.maintenance_fraction_ppm))
    .bind(col(rows, |r| r.open_interest_lower_cap.clone()))
    .bind(col(rows, |r| r.open_interest_upper_cap.clone()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn assets(conn: &mut PgConnection, rows: &[AssetRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO assets (id, symbol, "atomicResolution", "hasMarket", "marketId")
           SELECT * FROM UNNEST($1::text[], $2::text[], $3::int[], $4::bool[], $5::int[])"#,
    )
    .bind(col(rows, |r| r.id.clone()))
    .bind(col(rows, |r| r.symbol.clone()))
    .bind(col(rows, |r| r.atomic_resolution))
    .bind(col(rows, |r| r.has_market))
    .bind(col(rows, |r| r.market_id))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn perpetual_markets(
    conn: &mut PgConnection,
    rows: &[(RowChange, PerpetualMarketRow)],
) -> Result<(), StoreError> {
    let inserts: Vec<PerpetualMarketRow> = rows
        .iter()
        .filter(|(change, _)| *change == RowChange::Insert)
        .map(|(_, row)| row.clone())
        .collect();
    let updates: Vec<PerpetualMarketRow> = rows
        .iter()
        .filter(|(change, _)| *change == RowChange::Update)
        .map(|(_, row)| row.clone())
        .collect();
    if !inserts.is_empty() {
        let r = &inserts;
        sqlx::query(
            r#"INSERT INTO perpetual_markets (id, "clobPairId", ticker, "marketId", status,
                 "priceChange24H", "volume24H", "trades24H", "nextFundingRate", "openInterest",
                 "quantumConversionExponent", "atomicResolution", "subticksPerTick",
                 "stepBaseQuantums", "liquidityTierId", "marketType", "baseOpenInterest",
                 "defaultFundingRate1H")
               SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::text[],
                 $6::numeric[], $7::numeric[], $8::int[], $9::numeric[], $10::numeric[],
                 $11::int[], $12::int[], $13::int[], $14::int[], $15::int[], $16::text[],
                 $17::numeric[], $18::numeric[])"#,
        )
        .bind(col(r, |r| r.id))
        .bind(col(r, |r| r.clob_pair_id))
        .bind(col(r, |r| r.ticker.clone()))
        .bind(col(r, |r| r.market_id))
        .bind(col(r, |r| r.status.clone()))
        .bind(col(r, |r| r.price_change_24h.clone()))
        .bind(col(r, |r| r.volume_24h.clone()))
        .bind(col(r, |r| r.trades_24h))
        .bind(col(r, |r| r.next_funding_rate.clone()))
        .bind(col(r, |r| r.open_interest.clone()))
        .bind(col(r, |r| r.quantum_conversion_exponent))
        .bind(col(r, |r| r.atomic_resolution))
        .bind(col(r, |r| r.subticks_per_tick))
        .bind(col(r, |r| r.step_base_quantums))
        .bind(col(r, |r| r.liquidity_tier_id))
        .bind(col(r, |r| r.market_type.clone()))
        .bind(col(r, |r| r.base_open_interest.clone()))
        .bind(col(r, |r| r.default_funding_rate_1h.clone()))
        .execute(&mut *conn)
        .await?;
    }
    if !updates.is_empty() {
        let r = &updates;
        sqlx::query(
            r#"UPDATE perpetual_markets p SET "clobPairId" = u.clob, ticker = u.ticker,
                 "marketId" = u.market, status = u.status, "quantumConversionExponent" = u.qce,
                 "atomicResolution" = u.ar, "subticksPerTick" = u.spt, "stepBaseQuantums" = u.sbq,
                 "liquidityTierId" = u.tier, "marketType" = u.mtype,
                 "defaultFundingRate1H" = u.dfr
               FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::text[], $6::int[],
                 $7::int[], $8::int[], $9::int[], $10::int[], $11::text[], $12::numeric[])
                 AS u(id, clob, ticker, market, status, qce, ar, spt, sbq, tier, mtype, dfr)
               WHERE p.id = u.id"#,
        )
        .bind(col(r, |r| r.id))
        .bind(col(r, |r| r.clob_pair_id))
        .bind(col(r, |r| r.ticker.clone()))
        .bind(col(r, |r| r.market_id))
        .bind(col(r, |r| r.status.clone()))
        .bind(col(r, |r| r.quantum_conversion_exponent))
        .bind(col(r, |r| r.atomic_resolution))
        .bind(col(r, |r| r.subticks_per_tick))
        .bind(col(r, |r| r.step_base_quantums))
        .bind(col(r, |r| r.liquidity_tier_id))
        .bind(col(r, |r| r.market_type.clone()))
        .bind(col(r, |r| r.default_funding_rate_1h.clone()))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn subaccounts(conn: &mut PgConnection, rows: &[SubaccountRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO subaccounts (id, address, "subaccountNumber", "updatedAt", "updatedAtHeight")
           SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::bigint[])
           ON CONFLICT (id) DO UPDATE SET "updatedAt" = EXCLUDED."updatedAt",
             "updatedAtHeight" = EXCLUDED."updatedAtHeight""#,
    )
    .bind(col(rows, |r| r.id))
    .bind(col(rows, |r| r.address.clone()))
    .bind(col(rows, |r| r.subaccount_number))
    .bind(col(rows, |r| r.updated_at))
    .bind(col(rows, |r| r.updated_at_height))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn wallets(conn: &mut PgConnection, rows: &[WalletCredit]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO wallets (address, "totalTradingRewards", "totalVolume")
           SELECT a, r, 0 FROM UNNEST($1::text[], $2::numeric[]) AS u(a, r)
           ON CONFLICT (address) DO UPDATE
             SET "totalTradingRewards" = wallets."totalTradingRewards" + EXCLUDED."totalTradingRewards"
             WHERE EXCLUDED."totalTradingRewards" <> 0"#,
    )
    .bind(col(rows, |r| r.address.clone()))
    .bind(col(rows, |r| r.trading_rewards_delta.clone()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn orders(conn: &mut PgConnection, rows: &[OrderRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO orders (id, "subaccountId", "clientId", "clobPairId", side, size,
             "totalFilled", price, type, status, "timeInForce", "reduceOnly", "orderFlags",
             "goodTilBlock", "goodTilBlockTime", "createdAtHeight", "clientMetadata",
             "triggerPrice", "updatedAt", "updatedAtHeight", duration, "interval",
             "priceTolerance", "builderAddress", "feePpm", "orderRouterAddress", "createdAt")
           SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[], $5::text[],
             $6::numeric[], $7::numeric[], $8::numeric[], $9::text[], $10::text[], $11::text[],
             $12::bool[], $13::bigint[], $14::bigint[], $15::timestamptz[], $16::bigint[],
             $17::bigint[], $18::numeric[], $19::timestamptz[], $20::bigint[], $21::text[],
             $22::text[], $23::text[], $24::text[], $25::text[], $26::text[], $27::timestamptz[])
           ON CONFLICT (id) DO UPDATE SET "subaccountId" = EXCLUDED."subaccountId",
             "clientId" = EXCLUDED."clientId", "clobPairId" = EXCLUDED."clobPairId",
             side = EXCLUDED.side, size = EXCLUDED.size, "totalFilled" = EXCLUDED."totalFilled",
             price = EXCLUDED.price, type = EXCLUDED.type, status = EXCLUDED.status,
             "timeInForce" = EXCLUDED."timeInForce", "reduceOnly" = EXCLUDED."reduceOnly",
             "orderFlags" = EXCLUDED."orderFlags", "goodTilBlock" = EXCLUDED."goodTilBlock",
             "goodTilBlockTime" = EXCLUDED."goodTilBlockTime",
             "createdAtHeight" = EXCLUDED."createdAtHeight",
             "clientMetadata" = EXCLUDED."clientMetadata", "triggerPrice" = EXCLUDED."triggerPrice",
             "updatedAt" = EXCLUDED."updatedAt", "updatedAtHeight" = EXCLUDED."updatedAtHeight",
             duration = EXCLUDED.duration, "interval" = EXCLUDED."interval",
             "priceTolerance" = EXCLUDED."priceTolerance", "builderAddress" = EXCLUDED."builderAddress",
             "feePpm" = EXCLUDED."feePpm", "orderRouterAddress" = EXCLUDED."orderRouterAddress",
             "createdAt" = EXCLUDED."createdAt""#,
    )
    .bind(col(rows, |r| r.id))
    .bind(col(rows, |r| r.subaccount_id))
    .bind(col(rows, |r| r.client_id))
    .bind(col(rows, |r| r.clob_pair_id))
    .bind(col(rows, |r| r.side.clone()))
    .bind(col(rows, |r| r.size.clone()))
    .bind(col(rows, |r| r.total_filled.clone()))
    .bind(col(rows, |r| r.price.clone()))
    .bind(col(rows, |r| r.order_type.clone()))
    .bind(col(rows, |r| r.status.clone()))
    .bind(col(rows, |r| r.time_in_force.clone()))
    .bind(col(rows, |r| r.reduce_only))
    .bind(col(rows, |r| r.order_flags))
    .bind(col(rows, |r| r.good_til_block))
    .bind(col(rows, |r| r.good_til_block_time))
    .bind(col(rows, |r| r.created_at_height))
    .bind(col(rows, |r| r.client_metadata))
    .bind(col(rows, |r| r.trigger_price.clone()))
    .bind(col(rows, |r| r.updated_at))
    .bind(col(rows, |r| r.updated_at_height))
    .bind(col(rows, |r| r.duration.clone()))
    .bind(col(rows, |r| r.interval.clone()))
    .bind(col(rows, |r| r.price_tolerance.clone()))
    .bind(col(rows, |r| r.builder_address.clone()))
    .bind(col(rows, |r| r.fee_ppm.clone()))
    .bind(col(rows, |r| r.order_router_address.clone()))
    .bind(col(rows, |r| r.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn perpetual_positions(
    conn: &mut PgConnection,
    rows: &[PerpetualPositionRow],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO perpetual_positions (id, "subaccountId", "perpetualId", side, status, size,
             "maxSize", "entryPrice", "exitPrice", "sumOpen", "sumClose", "createdAt", "closedAt",
             "createdAtHeight", "closedAtHeight", "openEventId", "closeEventId", "lastEventId",
             "settledFunding", "totalRealizedPnl")
           SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::text[],
             $6::numeric[], $7::numeric[], $8::numeric[], $9::numeric[], $10::numeric[],
             $11::numeric[], $12::timestamptz[], $13::timestamptz[], $14::bigint[], $15::bigint[],
             $16::bytea[], $17::bytea[], $18::bytea[], $19::numeric[], $20::numeric[])
           ON CONFLICT (id) DO UPDATE SET side = EXCLUDED.side, status = EXCLUDED.status,
             size = EXCLUDED.size, "maxSize" = EXCLUDED."maxSize",
             "entryPrice" = EXCLUDED."entryPrice", "exitPrice" = EXCLUDED."exitPrice",
             "sumOpen" = EXCLUDED."sumOpen", "sumClose" = EXCLUDED."sumClose",
             "closedAt" = EXCLUDED."closedAt", "closedAtHeight" = EXCLUDED."closedAtHeight",
             "closeEventId" = EXCLUDED."closeEventId", "lastEventId" = EXCLUDED."lastEventId",
             "settledFunding" = EXCLUDED."settledFunding",
             "totalRealizedPnl" = EXCLUDED."totalRealizedPnl""#,
    )
    .bind(col(rows, |r| r.id))
    .bind(col(rows, |r| r.subaccount_id))
    .bind(col(rows, |r| r.perpetual_id))
    .bind(col(rows, |r| r.side.clone()))
    .bind(col(rows, |r| r.status.clone()))
    .bind(col(rows, |r| r.size.clone()))
    .bind(col(rows, |r| r.max_size.clone()))
    .bind(col(rows, |r| r.entry_price.clone()))
    .bind(col(rows, |r| r.exit_price.clone()))
    .bind(col(rows, |r| r.sum_open.clone()))
    .bind(col(rows, |r| r.sum_close.clone()))
    .bind(col(rows, |r| r.created_at))
    .bind(col(rows, |r| r.closed_at))
    .bind(col(rows, |r| r.created_at_height))
    .bind(col(rows, |r| r.closed_at_height))
    .bind(col(rows, |r| r.open_event_id.clone()))
    .bind(col(rows, |r| r.close_event_id.clone()))
    .bind(col(rows, |r| r.last_event_id.clone()))
    .bind(col(rows, |r| r.settled_funding.clone()))
    .bind(col(rows, |r| r.total_realized_pnl.clone()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn fills(conn: &mut PgConnection, rows: &[FillRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO fills (id, "subaccountId", side, liquidity, type, "clobPairId", "orderId",
             size, price, "quoteAmount", "eventId", "transactionHash", "createdAt",
             "createdAtHeight", "clientMetadata", fee, "affiliateRevShare", "builderAddress",
             "builderFee", "orderRouterAddress", "orderRouterFee", "positionSizeBefore",
             "entryPriceBefore", "positionSideBefore")
           SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],
             $6::bigint[], $7::uuid[], $8::numeric[], $9::numeric[], $10::numeric[], $11::bytea[],
             $12::text[], $13::timestamptz[], $14::bigint[], $15::bigint[], $16::text[],
             $17::numeric[], $18::text[], $19::text[], $20::text[], $21::text[], $22::numeric[],
             $23::numeric[], $24::text[])"#,
    )
    .bind(col(rows, |r| r.id))
    .bind(col(rows, |r| r.subaccount_id))
    .bind(col(rows, |r| r.side.clone()))
    .bind(col(rows, |r| r.liquidity.clone()))
    .bind(col(rows, |r| r.fill_type.clone()))
    .bind(col(rows, |r| r.clob_pair_id))
    .bind(col(rows, |r| r.order_id))
    .bind(col(rows, |r| r.size.clone()))
    .bind(col(rows, |r| r.price.clone()))
    .bind(col(rows, |r| r.quote_amount.clone()))
    .bind(col(rows, |r| r.event_id.clone()))
    .bind(col(rows, |r| r.transaction_hash.clone()))
    .bind(col(rows, |r| r.created_at))
    .bind(col(rows, |r| r.created_at_height))
    .bind(col(rows, |r| r.client_metadata))
    .bind(col(rows, |r| r.fee.clone()))
    .bind(col(rows, |r| r.affiliate_rev_share.clone()))
    .bind(col(rows, |r| r.builder_address.clone()))
    .bind(col(rows, |r| r.builder_fee.clone()))
    .bind(col(rows, |r| r.order_router_address.clone()))
    .bind(col(rows, |r| r.order_router_fee.clone()))
    .bind(col(rows, |r| r.position_size_before.clone()))
    .bind(col(rows, |r| r.entry_price_before.clone()))
    .bind(col(rows, |r| r.position_side_before.clone()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn asset_positions(
    conn: &mut PgConnection,
    rows: &[AssetPositionRow],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO asset_positions (id, "assetId", "subaccountId", size, "isLong")
           SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::numeric[], $5::bool[])
           ON CONFLICT (id) DO UPDATE SET size = EXCLUDED.size, "isLong" = EXCLUDED."isLong""#,
    )
    .bind(col(rows, |r| r.id))
    .bind(col(rows, |r| r.asset_id.clone()))
    .bind(col(rows, |r| r.subaccount_id))
    .bind(col(rows, |r| r.size.clone()))
    .bind(col(rows, |r| r.is_long))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn transfers(conn: &mut PgConnection, rows: &[TransferRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO transfers (id, "senderSubaccountId", "recipientSubaccountId",
             "senderWalletAddress", "recipientWalletAddress", "assetId", size, "eventId",
             "transactionHash", "createdAt", "createdAtHeight")
           SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
             $6::text[], $7::numeric[], $8::bytea[], $9::text[], $10::timestamptz[], $11::bigint[])"#,
    )
    .bind(col(rows, |r| r.id))
    .bind(col(rows, |r| r.sender_subaccount_id))
    .bind(col(rows, |r| r.recipient_subaccount_id))
    .bind(col(rows, |r| r.sender_wallet_address.clone()))
    .bind(col(rows, |r| r.recipient_wallet_address.clone()))
    .bind(col(rows, |r| r.asset_id.clone()))
    .bind(col(rows, |r| r.size.clone()))
    .bind(col(rows, |r| r.event_id.clone()))
    .bind(col(rows, |r| r.transaction_hash.clone()))
    .bind(col(rows, |r| r.created_at))
    .bind(col(rows, |r| r.created_at_height))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn oracle_prices(conn: &mut PgConnection, rows: &[OraclePriceRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO oracle_prices (id, "marketId", price, "effectiveAt", "effectiveAtHeight")
           SELECT * FROM UNNEST($1::uuid[], $2::int[], $3::numeric[], $4::timestamptz[], $5::bigint[])"#,
    )
    .bind(col(rows, |r| r.id))
    .bind(col(rows, |r| r.market_id))
    .bind(col(rows, |r| r.price.clone()))
    .bind(col(rows, |r| r.effective_at))
    .bind(col(rows, |r| r.effective_at_height))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn funding_index_updates(
    conn: &mut PgConnection,
    rows: &[FundingIndexUpdateRow],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO funding_index_updates (id, "perpetualId", "eventId", rate, "oraclePrice",
             "fundingIndex", "effectiveAt", "effectiveAtHeight")
           SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::bytea[], $4::numeric[], $5::numeric[],
             $6::numeric[], $7::timestamptz[], $8::bigint[])"#,
    )
    .bind(col(rows, |r| r.id))
    .bind(col(rows, |r| r.perpetual_id))
    .bind(col(rows, |r| r.event_id.clone()))
    .bind(col(rows, |r| r.rate.clone()))
    .bind(col(rows, |r| r.oracle_price.clone()))
    .bind(col(rows, |r| r.funding_index.clone()))
    .bind(col(rows, |r| r.effective_at))
    .bind(col(rows, |r| r.effective_at_height))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn trading_rewards(
    conn: &mut PgConnection,
    rows: &[TradingRewardRow],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO trading_rewards (id, address, "blockTime", "blockHeight", amount)
           SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::bigint[], $5::numeric[])"#,
    )
    .bind(col(rows, |r| r.id))
    .bind(col(rows, |r| r.address.clone()))
    .bind(col(rows, |r| r.block_time))
    .bind(col(rows, |r| r.block_height))
    .bind(col(rows, |r| r.amount.clone()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn affiliate_referred_users(
    conn: &mut PgConnection,
    rows: &[AffiliateReferredUserRow],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO affiliate_referred_users ("refereeAddress", "affiliateAddress", "referredAtBlock")
           SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[])"#,
    )
    .bind(col(rows, |r| r.referee_address.clone()))
    .bind(col(rows, |r| r.affiliate_address.clone()))
    .bind(col(rows, |r| r.referred_at_block))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn vaults(conn: &mut PgConnection, rows: &[VaultRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO vaults (address, "clobPairId", status, "createdAt", "updatedAt")
           SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::timestamptz[])
           ON CONFLICT (address) DO UPDATE SET status = EXCLUDED.status,
             "updatedAt" = EXCLUDED."updatedAt""#,
    )
    .bind(col(rows, |r| r.address.clone()))
    .bind(col(rows, |r| r.clob_pair_id))
    .bind(col(rows, |r| r.status.clone()))
    .bind(col(rows, |r| r.created_at))
    .bind(col(rows, |r| r.updated_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn candles(conn: &mut PgConnection, rows: &[CandleRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"INSERT INTO candles (id, "startedAt", ticker, resolution, low, high, open, close,
             "baseTokenVolume", "usdVolume", trades, "startingOpenInterest",
             "orderbookMidPriceOpen", "orderbookMidPriceClose")
           SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::text[],
             $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[], $9::numeric[],
             $10::numeric[], $11::int[], $12::numeric[], $13::numeric[], $14::numeric[])
           ON CONFLICT (id) DO UPDATE SET low = EXCLUDED.low, high = EXCLUDED.high,
             open = EXCLUDED.open, close = EXCLUDED.close,
             "baseTokenVolume" = EXCLUDED."baseTokenVolume", "usdVolume" = EXCLUDED."usdVolume",
             trades = EXCLUDED.trades, "startingOpenInterest" = EXCLUDED."startingOpenInterest",
             "orderbookMidPriceOpen" = EXCLUDED."orderbookMidPriceOpen",
             "orderbookMidPriceClose" = EXCLUDED."orderbookMidPriceClose""#,
    )
    .bind(col(rows, |r| r.id))
    .bind(col(rows, |r| r.started_at))
    .bind(col(rows, |r| r.ticker.clone()))
    .bind(col(rows, |r| r.resolution.clone()))
    .bind(col(rows, |r| r.low.clone()))
    .bind(col(rows, |r| r.high.clone()))
    .bind(col(rows, |r| r.open.clone()))
    .bind(col(rows, |r| r.close.clone()))
    .bind(col(rows, |r| r.base_token_volume.clone()))
    .bind(col(rows, |r| r.usd_volume.clone()))
    .bind(col(rows, |r| r.trades))
    .bind(col(rows, |r| r.starting_open_interest.clone()))
    .bind(col(rows, |r| r.orderbook_mid_price_open.clone()))
    .bind(col(rows, |r| r.orderbook_mid_price_close.clone()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Advances the sequence of every channel the messages use (one statement), then appends the
/// messages in order with `seq`, `epoch` and `channel` headers. Returns the rows appended.
pub(super) async fn append_outbox(
    conn: &mut PgConnection,
    height: i64,
    epoch: Uuid,
    messages: &[OutboxMessage],
) -> Result<usize, StoreError> {
    if messages.is_empty() {
        return Ok(0);
    }
    let mut next_seq = timed("channel_sequences", reserve_sequences(conn, messages)).await?;
    let mut headers = Vec::with_capacity(messages.len());
    for message in messages {
        let mut map = serde_json::Map::new();
        for (name, value) in &message.headers {
            map.insert(name.clone(), serde_json::Value::String(value.clone()));
        }
        if let Some(channel) = &message.channel {
            let seq = next_seq
                .get_mut(channel)
                .expect("every channel was reserved");
            map.insert("seq".into(), serde_json::Value::String(seq.to_string()));
            map.insert("epoch".into(), serde_json::Value::String(epoch.to_string()));
            map.insert(
                "channel".into(),
                serde_json::Value::String(format!("{}/{}", channel.channel, channel.id)),
            );
            *seq += 1;
        }
        headers.push(serde_json::Value::Object(map));
    }
    let insert = sqlx::query(
        r#"INSERT INTO ender_outbox (block_height, topic, partition_key, payload, headers)
           SELECT $1, t, k, p, h FROM UNNEST($2::text[], $3::bytea[], $4::bytea[], $5::jsonb[])
             WITH ORDINALITY AS u(t, k, p, h, n) ORDER BY n"#,
    )
    .bind(height)
    .bind(col(messages, |m| m.topic.clone()))
    .bind(col(messages, |m| m.partition_key.clone()))
    .bind(col(messages, |m| m.payload.clone()))
    .bind(headers)
    .execute(&mut *conn);
    timed("outbox", async { Ok(insert.await?) }).await?;
    Ok(messages.len())
}

/// Adds each channel's message count to its stored sequence and returns, per channel, the first
/// sequence number its messages get (sequences start at 1).
async fn reserve_sequences(
    conn: &mut PgConnection,
    messages: &[OutboxMessage],
) -> Result<BTreeMap<Channel, i64>, StoreError> {
    let mut counts: BTreeMap<Channel, i64> = BTreeMap::new();
    for channel in messages.iter().filter_map(|m| m.channel.as_ref()) {
        *counts.entry(channel.clone()).or_default() += 1;
    }
    if counts.is_empty() {
        return Ok(BTreeMap::new());
    }
    let names: Vec<String> = counts.keys().map(|c| c.channel.clone()).collect();
    let ids: Vec<String> = counts.keys().map(|c| c.id.clone()).collect();
    let added: Vec<i64> = counts.values().copied().collect();
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        r#"INSERT INTO channel_sequences (channel, channel_id, seq)
           SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[])
           ON CONFLICT (channel, channel_id) DO UPDATE SET seq = channel_sequences.seq + EXCLUDED.seq
           RETURNING channel, channel_id, seq"#,
    )
    .bind(names)
    .bind(ids)
    .bind(added)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(channel, id, last)| {
            let key = Channel { channel, id };
            let first = last - counts[&key] + 1;
            (key, first)
        })
        .collect())
}
