//! Compliance: `update_compliance_data` (screening results and the CLOSE_ONLY status of newly
//! blocked addresses) and `update_compliance_status` (CLOSE_ONLY addresses become BLOCKED after a
//! grace period).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::StoreError;

/// Sets every CLOSE_ONLY address last updated at or before `updated_before` to BLOCKED (the
/// reason is kept) and returns those addresses. One statement: an address whose status changed
/// meanwhile is not touched.
pub async fn block_stale_close_only(
    conn: &mut PgConnection,
    updated_before: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        r#"UPDATE compliance_status SET status = 'BLOCKED', "updatedAt" = now()
           WHERE status = 'CLOSE_ONLY' AND "updatedAt" <= $1
           RETURNING address"#,
    )
    .bind(updated_before)
    .fetch_all(&mut *conn)
    .await?)
}

/// The only provider value the schema allows; the reference records every screening client
/// (Elliptic, blocklist, placeholder) under it.
pub const COMPLIANCE_PROVIDER: &str = "ELLIPTIC";

/// Addresses with a subaccount updated at or after `since`.
pub async fn active_addresses<'e, E: sqlx::PgExecutor<'e>>(
    db: E,
    since: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        r#"SELECT DISTINCT address FROM subaccounts WHERE "updatedAt" >= $1 ORDER BY address"#,
    )
    .bind(since)
    .fetch_all(db)
    .await?)
}

/// Stored screening of each of `addresses` that has one: (address, blocked, updatedAt).
pub async fn screenings_of<'e, E: sqlx::PgExecutor<'e>>(
    db: E,
    addresses: &[String],
) -> Result<Vec<(String, bool, DateTime<Utc>)>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT address, blocked, "updatedAt" FROM compliance_data
           WHERE provider = $1 AND address = ANY($2) ORDER BY "updatedAt", address"#,
    )
    .bind(COMPLIANCE_PROVIDER)
    .bind(addresses)
    .fetch_all(db)
    .await?)
}

/// Up to `limit` addresses with a wallet whose unblocked screening is at or before `before`,
/// oldest first.
pub async fn stale_screenings<'e, E: sqlx::PgExecutor<'e>>(
    db: E,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        r#"SELECT c.address FROM compliance_data c
           WHERE c.provider = $1 AND NOT c.blocked AND c."updatedAt" <= $2
             AND EXISTS (SELECT 1 FROM wallets w WHERE w.address = c.address)
           ORDER BY c."updatedAt", c.address LIMIT $3"#,
    )
    .bind(COMPLIANCE_PROVIDER)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Those of `addresses` already CLOSE_ONLY or BLOCKED.
pub async fn restricted_addresses<'e, E: sqlx::PgExecutor<'e>>(
    db: E,
    addresses: &[String],
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        r#"SELECT address FROM compliance_status
           WHERE address = ANY($1) AND status IN ('CLOSE_ONLY', 'BLOCKED')"#,
    )
    .bind(addresses)
    .fetch_all(db)
    .await?)
}

/// One provider answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Screening {
    pub address: String,
    pub blocked: bool,
    pub risk_score: Option<bigdecimal::BigDecimal>,
}

/// Stores `screenings` (upserting `compliance_data` at `at`) and puts every newly blocked
/// address in CLOSE_ONLY with reason COMPLIANCE_PROVIDER, unless it is already CLOSE_ONLY or
/// BLOCKED. Returns the addresses moved to CLOSE_ONLY.
pub async fn record_screenings(
    conn: &mut PgConnection,
    screenings: &[Screening],
    at: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    if screenings.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query(
        r#"INSERT INTO compliance_data (address, provider, blocked, "riskScore", "updatedAt")
           SELECT u.address, $4, u.blocked, u.risk, $5
           FROM UNNEST($1::text[], $2::bool[], $3::numeric[]) AS u(address, blocked, risk)
           ON CONFLICT (address, provider) DO UPDATE
               SET blocked = EXCLUDED.blocked, "riskScore" = EXCLUDED."riskScore",
                   "updatedAt" = EXCLUDED."updatedAt""#,
    )
    .bind(
        screenings
            .iter()
            .map(|s| s.address.clone())
            .collect::<Vec<_>>(),
    )
    .bind(screenings.iter().map(|s| s.blocked).collect::<Vec<_>>())
    .bind(
        screenings
            .iter()
            .map(|s| s.risk_score.clone())
            .collect::<Vec<_>>(),
    )
    .bind(COMPLIANCE_PROVIDER)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    let blocked: Vec<String> = screenings
        .iter()
        .filter(|s| s.blocked)
        .map(|s| s.address.clone())
        .collect();
    Ok(sqlx::query_scalar(
        r#"INSERT INTO compliance_status (address, status, reason, "createdAt", "updatedAt")
           SELECT address, 'CLOSE_ONLY', 'COMPLIANCE_PROVIDER', $2, $2 FROM UNNEST($1::text[]) AS address
           ON CONFLICT (address) DO UPDATE
               SET status = 'CLOSE_ONLY', reason = 'COMPLIANCE_PROVIDER', "updatedAt" = $2
               WHERE compliance_status.status NOT IN ('CLOSE_ONLY', 'BLOCKED')
           RETURNING address"#,
    )
    .bind(&blocked)
    .bind(at)
    .fetch_all(&mut *conn)
    .await?)
}
