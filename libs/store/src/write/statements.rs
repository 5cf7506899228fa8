//! The batched statements behind [`super::write_block`]: one `UNNEST` statement per table.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use uuid::Uuid;

use super::rows::*;
use super::BlockWrite;
use crate::StoreError;

/// `INSERT INTO <table> ("<column>", …) SELECT * FROM UNNEST($1::<type>[], …) <suffix>`: the
/// shape of every batched write. Column names are always quoted (the schema is camelCase).
fn unnest_sql(table: &str, columns: &[(&str, &str)], suffix: &str) -> String {
    let names: Vec<String> = columns
        .iter()
        .map(|(name, _)| format!("\"{name}\""))
        .collect();
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, pg_type))| format!("${}::{pg_type}[]", i + 1))
        .collect();
    format!(
        "INSERT INTO {table} ({}) SELECT * FROM UNNEST({}) {suffix}",
        names.join(", "),
        arrays.join(", ")
    )
}

/// `ON CONFLICT ("<key>") DO UPDATE SET "<column>" = EXCLUDED."<column>", …`: an upsert that
/// replaces `columns` with the block's final values.
fn on_conflict_update(key: &str, columns: &[&str]) -> String {
    let sets: Vec<String> = columns
        .iter()
        .map(|c| format!("\"{c}\" = EXCLUDED.\"{c}\""))
        .collect();
    format!("ON CONFLICT (\"{key}\") DO UPDATE SET {}", sets.join(", "))
}

/// Writes `rows` to `table` in one statement, one bound array per column: each entry is
/// `"column": "postgres type" => |row| value`, in the order of the table's column list.
macro_rules! unnest_insert {
    ($conn:ident, $rows:ident, $table:literal, $suffix:expr,
     { $($column:literal : $pg_type:literal => |$r:ident| $value:expr),+ $(,)? }) => {{
        let sql = unnest_sql($table, &[$(($column, $pg_type)),+], $suffix);
        sqlx::query(&sql)
            $(.bind(col($rows, |$r| $value)))+
            .execute(&mut *$conn)
            .await?;
        Ok(())
    }};
}

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
    unnest_insert!(conn, rows, "transactions", "", {
        "id": "uuid" => |r| r.id,
        "blockHeight": "bigint" => |r| r.block_height,
        "transactionIndex": "int" => |r| r.transaction_index,
        "transactionHash": "text" => |r| r.transaction_hash.clone(),
    })
}

async fn tendermint_events(
    conn: &mut PgConnection,
    rows: &[TendermintEventRow],
) -> Result<(), StoreError> {
    unnest_insert!(conn, rows, "tendermint_events", "", {
        "id": "bytea" => |r| r.id.clone(),
        "blockHeight": "bigint" => |r| r.block_height,
        "transactionIndex": "int" => |r| r.transaction_index,
        "eventIndex": "int" => |r| r.event_index,
    })
}

async fn markets(conn: &mut PgConnection, rows: &[MarketRow]) -> Result<(), StoreError> {
    unnest_insert!(conn, rows, "markets", &on_conflict_update(
        "id",
        &["pair", "minPriceChangePpm", "oraclePrice"],
    ), {
        "id": "int" => |r| r.id,
        "pair": "text" => |r| r.pair.clone(),
        "exponent": "int" => |r| r.exponent,
        "minPriceChangePpm": "int" => |r| r.min_price_change_ppm,
        "oraclePrice": "numeric" => |r| r.oracle_price.clone(),
    })
}

async fn liquidity_tiers(
    conn: &mut PgConnection,
    rows: &[LiquidityTierRow],
) -> Result<(), StoreError> {
    unnest_insert!(conn, rows, "liquidity_tiers", &on_conflict_update(
        "id",
        &[
            "name", "initialMarginPpm", "maintenanceFractionPpm", "openInterestLowerCap",
            "openInterestUpperCap",
        ],
    ), {
        "id": "int" => |r| r.id,
        "name": "text" => |r| r.name.clone(),
        "initialMarginPpm": "bigint" => |r| r.initial_margin_ppm,
        "maintenanceFractionPpm": "bigint" => |r| r.maintenance_fraction_ppm,
        "openInterestLowerCap": "text" => |r| r.open_interest_lower_cap.clone(),
        "openInterestUpperCap": "text" => |r| r.open_interest_upper_cap.clone(),
    })
}

async fn assets(conn: &mut PgConnection, rows: &[AssetRow]) -> Result<(), StoreError> {
    unnest_insert!(conn, rows, "assets", "", {
        "id": "text" => |r| r.id.clone(),
        "symbol": "text" => |r| r.symbol.clone(),
        "atomicResolution": "int" => |r| r.atomic_resolution,
        "hasMarket": "bool" => |r| r.has_market,
        "marketId": "int" => |r| r.market_id,
    })
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
    unnest_insert!(conn, rows, "subaccounts", &on_conflict_update(
        "id",
        &["updatedAt", "updatedAtHeight"],
    ), {
        "id": "uuid" => |r| r.id,
        "address": "text" => |r| r.address.clone(),
        "subaccountNumber": "int" => |r| r.subaccount_number,
        "updatedAt": "timestamptz" => |r| r.updated_at,
        "updatedAtHeight": "bigint" => |r| r.updated_at_height,
    })
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
    unnest_insert!(conn, rows, "orders", &on_conflict_update(
        "id",
        &[
            "subaccountId", "clientId", "clobPairId", "side", "size", "totalFilled", "price",
            "type", "status", "timeInForce", "reduceOnly", "orderFlags", "goodTilBlock",
            "goodTilBlockTime", "createdAtHeight", "clientMetadata", "triggerPrice",
            "updatedAt", "updatedAtHeight", "duration", "interval", "priceTolerance",
            "builderAddress", "feePpm", "orderRouterAddress", "createdAt",
        ],
    ), {
        "id": "uuid" => |r| r.id,
        "subaccountId": "uuid" => |r| r.subaccount_id,
        "clientId": "bigint" => |r| r.client_id,
        "clobPairId": "bigint" => |r| r.clob_pair_id,
        "side": "text" => |r| r.side.clone(),
        "size": "numeric" => |r| r.size.clone(),
        "totalFilled": "numeric" => |r| r.total_filled.clone(),
        "price": "numeric" => |r| r.price.clone(),
        "type": "text" => |r| r.order_type.clone(),
        "status": "text" => |r| r.status.clone(),
        "timeInForce": "text" => |r| r.time_in_force.clone(),
        "reduceOnly": "bool" => |r| r.reduce_only,
        "orderFlags": "bigint" => |r| r.order_flags,
        "goodTilBlock": "bigint" => |r| r.good_til_block,
        "goodTilBlockTime": "timestamptz" => |r| r.good_til_block_time,
        "createdAtHeight": "bigint" => |r| r.created_at_height,
        "clientMetadata": "bigint" => |r| r.client_metadata,
        "triggerPrice": "numeric" => |r| r.trigger_price.clone(),
        "updatedAt": "timestamptz" => |r| r.updated_at,
        "updatedAtHeight": "bigint" => |r| r.updated_at_height,
        "duration": "text" => |r| r.duration.clone(),
        "interval": "text" => |r| r.interval.clone(),
        "priceTolerance": "text" => |r| r.price_tolerance.clone(),
        "builderAddress": "text" => |r| r.builder_address.clone(),
        "feePpm": "text" => |r| r.fee_ppm.clone(),
        "orderRouterAddress": "text" => |r| r.order_router_address.clone(),
        "createdAt": "timestamptz" => |r| r.created_at,
    })
}

async fn perpetual_positions(
    conn: &mut PgConnection,
    rows: &[PerpetualPositionRow],
) -> Result<(), StoreError> {
    unnest_insert!(conn, rows, "perpetual_positions", &on_conflict_update(
        "id",
        &[
            "side", "status", "size", "maxSize", "entryPrice", "exitPrice", "sumOpen",
            "sumClose", "closedAt", "closedAtHeight", "closeEventId", "lastEventId",
            "settledFunding", "totalRealizedPnl",
        ],
    ), {
        "id": "uuid" => |r| r.id,
        "subaccountId": "uuid" => |r| r.subaccount_id,
        "perpetualId": "bigint" => |r| r.perpetual_id,
        "side": "text" => |r| r.side.clone(),
        "status": "text" => |r| r.status.clone(),
        "size": "numeric" => |r| r.size.clone(),
        "maxSize": "numeric" => |r| r.max_size.clone(),
        "entryPrice": "numeric" => |r| r.entry_price.clone(),
        "exitPrice": "numeric" => |r| r.exit_price.clone(),
        "sumOpen": "numeric" => |r| r.sum_open.clone(),
        "sumClose": "numeric" => |r| r.sum_close.clone(),
        "createdAt": "timestamptz" => |r| r.created_at,
        "closedAt": "timestamptz" => |r| r.closed_at,
        "createdAtHeight": "bigint" => |r| r.created_at_height,
        "closedAtHeight": "bigint" => |r| r.closed_at_height,
        "openEventId": "bytea" => |r| r.open_event_id.clone(),
        "closeEventId": "bytea" => |r| r.close_event_id.clone(),
        "lastEventId": "bytea" => |r| r.last_event_id.clone(),
        "settledFunding": "numeric" => |r| r.settled_funding.clone(),
        "totalRealizedPnl": "numeric" => |r| r.total_realized_pnl.clone(),
    })
}

async fn fills(conn: &mut PgConnection, rows: &[FillRow]) -> Result<(), StoreError> {
    unnest_insert!(conn, rows, "fills", "", {
        "id": "uuid" => |r| r.id,
        "subaccountId": "uuid" => |r| r.subaccount_id,
        "side": "text" => |r| r.side.clone(),
        "liquidity": "text" => |r| r.liquidity.clone(),
        "type": "text" => |r| r.fill_type.clone(),
        "clobPairId": "bigint" => |r| r.clob_pair_id,
        "orderId": "uuid" => |r| r.order_id,
        "size": "numeric" => |r| r.size.clone(),
        "price": "numeric" => |r| r.price.clone(),
        "quoteAmount": "numeric" => |r| r.quote_amount.clone(),
        "eventId": "bytea" => |r| r.event_id.clone(),
        "transactionHash": "text" => |r| r.transaction_hash.clone(),
        "createdAt": "timestamptz" => |r| r.created_at,
        "createdAtHeight": "bigint" => |r| r.created_at_height,
        "clientMetadata": "bigint" => |r| r.client_metadata,
        "fee": "text" => |r| r.fee.clone(),
        "affiliateRevShare": "numeric" => |r| r.affiliate_rev_share.clone(),
        "builderAddress": "text" => |r| r.builder_address.clone(),
        "builderFee": "text" => |r| r.builder_fee.clone(),
        "orderRouterAddress": "text" => |r| r.order_router_address.clone(),
        "orderRouterFee": "text" => |r| r.order_router_fee.clone(),
        "positionSizeBefore": "numeric" => |r| r.position_size_before.clone(),
        "entryPriceBefore": "numeric" => |r| r.entry_price_before.clone(),
        "positionSideBefore": "text" => |r| r.position_side_before.clone(),
    })
}

async fn asset_positions(
    conn: &mut PgConnection,
    rows: &[AssetPositionRow],
) -> Result<(), StoreError> {
    unnest_insert!(conn, rows, "asset_positions", &on_conflict_update(
        "id",
        &["size", "isLong"],
    ), {
        "id": "uuid" => |r| r.id,
        "assetId": "text" => |r| r.asset_id.clone(),
        "subaccountId": "uuid" => |r| r.subaccount_id,
        "size": "numeric" => |r| r.size.clone(),
        "isLong": "bool" => |r| r.is_long,
    })
}

async fn transfers(conn: &mut PgConnection, rows: &[TransferRow]) -> Result<(), StoreError> {
    unnest_insert!(conn, rows, "transfers", "", {
        "id": "uuid" => |r| r.id,
        "senderSubaccountId": "uuid" => |r| r.sender_subaccount_id,
        "recipientSubaccountId": "uuid" => |r| r.recipient_subaccount_id,
        "senderWalletAddress": "text" => |r| r.sender_wallet_address.clone(),
        "recipientWalletAddress": "text" => |r| r.recipient_wallet_address.clone(),
        "assetId": "text" => |r| r.asset_id.clone(),
        "size": "numeric" => |r| r.size.clone(),
        "eventId": "bytea" => |r| r.event_id.clone(),
        "transactionHash": "text" => |r| r.transaction_hash.clone(),
        "createdAt": "timestamptz" => |r| r.created_at,
        "createdAtHeight": "bigint" => |r| r.created_at_height,
    })
}

async fn oracle_prices(conn: &mut PgConnection, rows: &[OraclePriceRow]) -> Result<(), StoreError> {
    unnest_insert!(conn, rows, "oracle_prices", "", {
        "id": "uuid" => |r| r.id,
        "marketId": "int" => |r| r.market_id,
        "price": "numeric" => |r| r.price.clone(),
        "effectiveAt": "timestamptz" => |r| r.effective_at,
        "effectiveAtHeight": "bigint" => |r| r.effective_at_height,
    })
}

async fn funding_index_updates(
    conn: &mut PgConnection,
    rows: &[FundingIndexUpdateRow],
) -> Result<(), StoreError> {
    unnest_insert!(conn, rows, "funding_index_updates", "", {
        "id": "uuid" => |r| r.id,
        "perpetualId": "bigint" => |r| r.perpetual_id,
        "eventId": "bytea" => |r| r.event_id.clone(),
        "rate": "numeric" => |r| r.rate.clone(),
        "oraclePrice": "numeric" => |r| r.oracle_price.clone(),
        "fundingIndex": "numeric" => |r| r.funding_index.clone(),
        "effectiveAt": "timestamptz" => |r| r.effective_at,
        "effectiveAtHeight": "bigint" => |r| r.effective_at_height,
    })
}

async fn trading_rewards(
    conn: &mut PgConnection,
    rows: &[TradingRewardRow],
) -> Result<(), StoreError> {
    unnest_insert!(conn, rows, "trading_rewards", "", {
        "id": "uuid" => |r| r.id,
        "address": "text" => |r| r.address.clone(),
        "blockTime": "timestamptz" => |r| r.block_time,
        "blockHeight": "bigint" => |r| r.block_height,
        "amount": "numeric" => |r| r.amount.clone(),
    })
}

async fn affiliate_referred_users(
    conn: &mut PgConnection,
    rows: &[AffiliateReferredUserRow],
) -> Result<(), StoreError> {
    unnest_insert!(conn, rows, "affiliate_referred_users", "", {
        "refereeAddress": "text" => |r| r.referee_address.clone(),
        "affiliateAddress": "text" => |r| r.affiliate_address.clone(),
        "referredAtBlock": "bigint" => |r| r.referred_at_block,
    })
}

async fn vaults(conn: &mut PgConnection, rows: &[VaultRow]) -> Result<(), StoreError> {
    unnest_insert!(conn, rows, "vaults", &on_conflict_update(
        "address",
        &["status", "updatedAt"],
    ), {
        "address": "text" => |r| r.address.clone(),
        "clobPairId": "bigint" => |r| r.clob_pair_id,
        "status": "text" => |r| r.status.clone(),
        "createdAt": "timestamptz" => |r| r.created_at,
        "updatedAt": "timestamptz" => |r| r.updated_at,
    })
}

async fn candles(conn: &mut PgConnection, rows: &[CandleRow]) -> Result<(), StoreError> {
    unnest_insert!(conn, rows, "candles", &on_conflict_update(
        "id",
        &[
            "low", "high", "open", "close", "baseTokenVolume", "usdVolume", "trades",
            "startingOpenInterest", "orderbookMidPriceOpen", "orderbookMidPriceClose",
        ],
    ), {
        "id": "uuid" => |r| r.id,
        "startedAt": "timestamptz" => |r| r.started_at,
        "ticker": "text" => |r| r.ticker.clone(),
        "resolution": "text" => |r| r.resolution.clone(),
        "low": "numeric" => |r| r.low.clone(),
        "high": "numeric" => |r| r.high.clone(),
        "open": "numeric" => |r| r.open.clone(),
        "close": "numeric" => |r| r.close.clone(),
        "baseTokenVolume": "numeric" => |r| r.base_token_volume.clone(),
        "usdVolume": "numeric" => |r| r.usd_volume.clone(),
        "trades": "int" => |r| r.trades,
        "startingOpenInterest": "numeric" => |r| r.starting_open_interest.clone(),
        "orderbookMidPriceOpen": "numeric" => |r| r.orderbook_mid_price_open.clone(),
        "orderbookMidPriceClose": "numeric" => |r| r.orderbook_mid_price_close.clone(),
    })
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
