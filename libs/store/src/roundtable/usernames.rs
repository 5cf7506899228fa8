//! `subaccount_username_generator`: usernames for subaccount 0 of every address.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::StoreError;

/// Up to `limit` subaccounts numbered 0 without a username: (id, address).
pub async fn subaccounts_without_username<'e, E: PgExecutor<'e>>(
    db: E,
    limit: i64,
) -> Result<Vec<(Uuid, String)>, StoreError> {
    Ok(sqlx::query_as(
        r#"SELECT s.id, s.address FROM subaccounts s
           WHERE s."subaccountNumber" = 0
             AND NOT EXISTS (SELECT 1 FROM subaccount_usernames u WHERE u."subaccountId" = s.id)
           ORDER BY s.id LIMIT $1"#,
    )
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Inserts (username, subaccount) pairs, skipping any whose username or subaccount is already
/// taken; returns the subaccounts that got their username.
pub async fn insert_usernames(
    conn: &mut PgConnection,
    names: &[(String, Uuid)],
) -> Result<Vec<Uuid>, StoreError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_scalar(
        r#"INSERT INTO subaccount_usernames (username, "subaccountId")
           SELECT * FROM UNNEST($1::text[], $2::uuid[])
           ON CONFLICT DO NOTHING
           RETURNING "subaccountId""#,
    )
    .bind(names.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>())
    .bind(names.iter().map(|(_, id)| *id).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?)
}
