//! `GET /v4/affiliates/snapshot` (serve.md §4.6): the affiliate statistics roundtable keeps in
//! `affiliate_info`, with each affiliate's referral code (the username of its subaccount 0).
//! The amounts are JSON numbers, as the reference converts them with `Number(...)`.

use std::collections::HashMap;

use indexer_domain::Decimal;
use serde::Serialize;
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;

use crate::json::Numeric;
use crate::QueryError;

/// Selection of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFilter {
    /// Only these affiliates (empty: all).
    pub addresses: Vec<String>,
    pub offset: u64,
    pub limit: u64,
    /// Highest earnings first (address breaks ties); otherwise by address.
    pub by_earnings: bool,
}

/// One affiliate's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AffiliateSnapshotResponseObject)]
pub struct AffiliateSnapshot {
    pub affiliate_address: String,
    /// `""` when the affiliate has no username.
    pub affiliate_referral_code: String,
    #[schema(value_type = f64)]
    pub affiliate_earnings: serde_json::Number,
    /// Maker plus taker trades of referred users.
    pub affiliate_referred_trades: i64,
    /// Maker fees + taker fees + maker rebates.
    #[schema(value_type = f64)]
    pub affiliate_total_referred_fees: serde_json::Number,
    pub affiliate_referred_users: i64,
    /// Total referred fees − earnings.
    #[schema(value_type = f64)]
    pub affiliate_referred_net_protocol_earnings: serde_json::Number,
    #[schema(value_type = f64)]
    pub affiliate_referred_total_volume: serde_json::Number,
    #[schema(value_type = f64)]
    pub affiliate_referred_maker_fees: serde_json::Number,
    #[schema(value_type = f64)]
    pub affiliate_referred_taker_fees: serde_json::Number,
    #[schema(value_type = f64)]
    pub affiliate_referred_maker_rebates: serde_json::Number,
}

/// `{"affiliateList": [...], "total": <items returned>, "currentOffset": offset}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AffiliateSnapshotResponse {
    pub affiliate_list: Vec<AffiliateSnapshot>,
    pub total: usize,
    pub current_offset: u64,
}

#[derive(Debug, sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
struct InfoRow {
    address: String,
    affiliate_earnings: Numeric,
    referred_maker_trades: i32,
    referred_taker_trades: i32,
    total_referred_users: i32,
    referred_total_volume: Numeric,
    total_referred_taker_fees: Numeric,
    total_referred_maker_fees: Numeric,
    total_referred_maker_rebates: Numeric,
}

/// A decimal as a JSON number (what JavaScript's `Number(text)` gives for ordinary amounts).
fn number(value: &Decimal) -> serde_json::Number {
    let text = Numeric::computed(value.clone()).to_string();
    text.parse()
        .or_else(|_| {
            text.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .ok_or(())
        })
        .unwrap_or_else(|_| serde_json::Number::from(0))
}

impl InfoRow {
    fn into_snapshot(self, referral_code: String) -> AffiliateSnapshot {
        let maker_fees = self.total_referred_maker_fees.into_decimal();
        let taker_fees = self.total_referred_taker_fees.into_decimal();
        let maker_rebates = self.total_referred_maker_rebates.into_decimal();
        let earnings = self.affiliate_earnings.into_decimal();
        let total_fees = &(&maker_fees + &taker_fees) + &maker_rebates;
        AffiliateSnapshot {
            affiliate_address: self.address,
            affiliate_referral_code: referral_code,
            affiliate_earnings: number(&earnings),
            affiliate_referred_trades: i64::from(self.referred_maker_trades)
                + i64::from(self.referred_taker_trades),
            affiliate_total_referred_fees: number(&total_fees),
            affiliate_referred_users: i64::from(self.total_referred_users),
            affiliate_referred_net_protocol_earnings: number(&(&total_fees - &earnings)),
            affiliate_referred_total_volume: number(self.referred_total_volume.decimal()),
            affiliate_referred_maker_fees: number(&maker_fees),
            affiliate_referred_taker_fees: number(&taker_fees),
            affiliate_referred_maker_rebates: number(&maker_rebates),
        }
    }
}

/// One page of `affiliate_info` with the affiliates' referral codes.
pub async fn affiliate_snapshot(
    pool: &PgPool,
    filter: &SnapshotFilter,
) -> Result<AffiliateSnapshotResponse, QueryError> {
    let mut query = QueryBuilder::<Postgres>::new(
        r#"SELECT address, "affiliateEarnings", "referredMakerTrades", "referredTakerTrades",
                  "totalReferredUsers", "referredTotalVolume", "totalReferredTakerFees",
                  "totalReferredMakerFees", "totalReferredMakerRebates"
           FROM affiliate_info"#,
    );
    if !filter.addresses.is_empty() {
        query
            .push(" WHERE address = ANY(")
            .push_bind(filter.addresses.clone())
            .push(")");
    }
    query.push(if filter.by_earnings {
        r#" ORDER BY "affiliateEarnings" DESC, address"#
    } else {
        " ORDER BY address"
    });
    query
        .push(" OFFSET ")
        .push_bind(i64::try_from(filter.offset).unwrap_or(i64::MAX))
        .push(" LIMIT ")
        .push_bind(i64::try_from(filter.limit).unwrap_or(i64::MAX));
    let rows: Vec<InfoRow> = query.build_query_as().fetch_all(pool).await?;
    let addresses: Vec<&str> = rows.iter().map(|r| r.address.as_str()).collect();
    let codes: HashMap<String, String> = sqlx::query_as(
        r#"SELECT s.address, u.username FROM subaccount_usernames u
           JOIN subaccounts s ON s.id = u."subaccountId"
           WHERE s.address = ANY($1) AND s."subaccountNumber" = 0"#,
    )
    .bind(&addresses)
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    let affiliate_list: Vec<AffiliateSnapshot> = rows
        .into_iter()
        .map(|row| {
            let code = codes.get(&row.address).cloned().unwrap_or_default();
            row.into_snapshot(code)
        })
        .collect();
    Ok(AffiliateSnapshotResponse {
        total: affiliate_list.len(),
        affiliate_list,
        current_offset: filter.offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_become_plain_json_numbers() {
        let n = |text: &str| number(&Decimal::parse(text).unwrap()).to_string();
        assert_eq!(n("12.500000"), "12.5");
        assert_eq!(n("100"), "100");
        assert_eq!(n("-0.25"), "-0.25");
    }
}

/// Why a referral code could not be changed (the texts are the reference's 400 messages).
#[derive(Debug, thiserror::Error)]
pub enum ReferralCodeError {
    #[error("Referral code already exists")]
    Taken,
    #[error("Referral code update not available yet - please try again later")]
    NotAvailableYet,
    #[error(transparent)]
    Query(#[from] QueryError),
}

impl From<sqlx::Error> for ReferralCodeError {
    fn from(error: sqlx::Error) -> Self {
        ReferralCodeError::Query(error.into())
    }
}

/// Renames the username of `address`'s subaccount 0 (its referral code) to `code`. The address
/// needs a username already (roundtable gives every subaccount one).
pub async fn update_referral_code(
    primary: &PgPool,
    address: &str,
    code: &str,
) -> Result<(), ReferralCodeError> {
    let mut tx = primary.begin().await?;
    let taken: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM subaccount_usernames WHERE username = $1)",
    )
    .bind(code)
    .fetch_one(&mut *tx)
    .await?;
    if taken {
        return Err(ReferralCodeError::Taken);
    }
    let subaccount = indexer_domain::ids::subaccount_uuid(address, 0);
    let updated =
        sqlx::query(r#"UPDATE subaccount_usernames SET username = $1 WHERE "subaccountId" = $2"#)
            .bind(code)
            .bind(subaccount)
            .execute(&mut *tx)
            .await;
    match updated {
        Ok(result) if result.rows_affected() == 0 => Err(ReferralCodeError::NotAvailableYet),
        Ok(_) => Ok(tx.commit().await?),
        // A concurrent rename to the same code loses on the primary key.
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            Err(ReferralCodeError::Taken)
        }
        Err(error) => Err(error.into()),
    }
}
