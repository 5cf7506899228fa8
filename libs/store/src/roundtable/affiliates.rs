//! `update_wallet_total_volume` and `update_affiliate_info`: running totals over fill windows.
//! Each window is (`after`, `until`] by fill time; callers move the window's marker in the same
//! transaction so a window is added exactly once.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::StoreError;

/// Marker of `wallets.totalVolume` (the reference's key).
pub const WALLET_VOLUME_WATERMARK: &str = "totalVolumeUpdateTime";
/// Marker of `affiliate_info` (the reference's key).
pub const AFFILIATE_INFO_WATERMARK: &str = "affiliateInfoUpdateTime";

/// Adds the notional volume (price × size, both sides) of the fills in the window to each
/// address's `wallets.totalVolume`. Returns the wallets updated.
pub async fn add_wallet_volume(
    conn: &mut PgConnection,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        r#"UPDATE wallets w SET "totalVolume" = w."totalVolume" + v.volume
           FROM (SELECT s.address, sum(f.price * f.size) AS volume
                 FROM fills f JOIN subaccounts s ON s.id = f."subaccountId"
                 WHERE f."createdAt" > $1 AND f."createdAt" <= $2
                 GROUP BY s.address) v
           WHERE w.address = v.address"#,
    )
    .bind(after)
    .bind(until)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Refreshes every affiliate's referral metadata (referred users, first referral height) and
/// adds the window's statistics of fills by their referees' subaccounts made at or after the
/// referral: fees (maker fees > 0, taker LIMIT fees, maker rebates < 0), revenue share, maker
/// and taker trade counts and notional volume. Returns the affiliates written.
pub async fn add_affiliate_stats(
    conn: &mut PgConnection,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        r#"
WITH referrals AS (
    SELECT "affiliateAddress" AS address, count(*) AS users, min("referredAtBlock") AS first_block
    FROM affiliate_referred_users GROUP BY "affiliateAddress"
),
referred_fills AS (
    SELECT r."affiliateAddress" AS address, f.liquidity, f.type, f.fee::numeric AS fee,
           f."affiliateRevShare", f.price * f.size AS notional
    FROM fills f
    JOIN subaccounts s ON s.id = f."subaccountId"
    JOIN affiliate_referred_users r ON r."refereeAddress" = s.address
    WHERE f."createdAt" > $1 AND f."createdAt" <= $2 AND f."createdAtHeight" >= r."referredAtBlock"
),
window_stats AS (
    SELECT address,
           sum("affiliateRevShare") AS earnings,
           sum(CASE WHEN liquidity = 'MAKER' AND fee > 0 THEN fee ELSE 0 END) AS maker_fees,
           sum(CASE WHEN liquidity = 'TAKER' AND type = 'LIMIT' THEN fee ELSE 0 END) AS taker_fees,
           sum(CASE WHEN liquidity = 'MAKER' AND fee < 0 THEN fee ELSE 0 END) AS maker_rebates,
           count(*) FILTER (WHERE liquidity = 'MAKER') AS maker_trades,
           count(*) FILTER (WHERE liquidity = 'TAKER') AS taker_trades,
           sum(notional) AS volume
    FROM referred_fills GROUP BY address
)
INSERT INTO affiliate_info AS a (address, "totalReferredUsers", "firstReferralBlockHeight",
    "affiliateEarnings", "referredMakerTrades", "referredTakerTrades", "totalReferredMakerFees",
    "totalReferredTakerFees", "totalReferredMakerRebates", "referredTotalVolume")
SELECT r.address, r.users, r.first_block, coalesce(w.earnings, 0), coalesce(w.maker_trades, 0),
       coalesce(w.taker_trades, 0), coalesce(w.maker_fees, 0), coalesce(w.taker_fees, 0),
       coalesce(w.maker_rebates, 0), coalesce(w.volume, 0)
FROM referrals r LEFT JOIN window_stats w ON w.address = r.address
ON CONFLICT (address) DO UPDATE SET
    "totalReferredUsers" = EXCLUDED."totalReferredUsers",
    "firstReferralBlockHeight" = EXCLUDED."firstReferralBlockHeight",
    "affiliateEarnings" = a."affiliateEarnings" + EXCLUDED."affiliateEarnings",
    "referredMakerTrades" = a."referredMakerTrades" + EXCLUDED."referredMakerTrades",
    "referredTakerTrades" = a."referredTakerTrades" + EXCLUDED."referredTakerTrades",
    "totalReferredMakerFees" = a."totalReferredMakerFees" + EXCLUDED."totalReferredMakerFees",
    "totalReferredTakerFees" = a."totalReferredTakerFees" + EXCLUDED."totalReferredTakerFees",
    "totalReferredMakerRebates" = a."totalReferredMakerRebates" + EXCLUDED."totalReferredMakerRebates",
    "referredTotalVolume" = a."referredTotalVolume" + EXCLUDED."referredTotalVolume"
"#,
    )
    .bind(after)
    .bind(until)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
