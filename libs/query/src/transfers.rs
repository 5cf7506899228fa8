//! Transfers, deposits and withdrawals of a subaccount or parent (serve.md §3.7, §4.3.9).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::json::{IntString, IsoTime, Numeric};
use crate::page::{Paged, Pagination};
use crate::subaccounts::{SubaccountSelector, MAX_PARENT_SUBACCOUNTS};
use crate::QueryError;

/// A transfer row with its asset symbol and both sides' address and subaccount number.
const TRANSFER_SELECT: &str = r#"SELECT t.id, t."senderSubaccountId", t."recipientSubaccountId",
                  t."senderWalletAddress", t."recipientWalletAddress", t.size, t."createdAt",
                  t."createdAtHeight", t."transactionHash", a.symbol,
                  s.address AS "senderAddress", s."subaccountNumber" AS "senderNumber",
                  r.address AS "recipientAddress", r."subaccountNumber" AS "recipientNumber"
           FROM transfers t
           JOIN assets a ON a.id = t."assetId"
           LEFT JOIN subaccounts s ON s.id = t."senderSubaccountId"
           LEFT JOIN subaccounts r ON r.id = t."recipientSubaccountId""#;

/// One side of a transfer: a subaccount (with its number, or its parent number on parent
/// routes) or a wallet (address only).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransferParty {
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subaccount_number: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_subaccount_number: Option<i32>,
}

/// `TransferResponseObject`; `type` is relative to the queried subaccount (or parent).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TransferResponseObject)]
pub struct Transfer {
    pub id: Uuid,
    pub sender: TransferParty,
    pub recipient: TransferParty,
    pub size: Numeric,
    pub created_at: IsoTime,
    pub created_at_height: IntString,
    pub symbol: String,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::json::enums::transfer_type)]
    pub transfer_type: String,
    pub transaction_hash: String,
}

/// `{"transfers": [...]}` plus the pagination keys when paged.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TransfersResponse {
    pub transfers: Vec<Transfer>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub page: Option<crate::page::PageInfo>,
}

response_from_paged!(TransfersResponse, transfers, Transfer);

/// Filters of `GET /v4/transfers`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TransfersFilter {
    pub created_before_or_at_height: Option<i64>,
    pub created_before_or_at: Option<DateTime<Utc>>,
    pub pagination: Pagination,
}

#[derive(sqlx::FromRow)]
#[sqlx(rename_all = "camelCase")]
struct TransferRow {
    id: Uuid,
    sender_subaccount_id: Option<Uuid>,
    recipient_subaccount_id: Option<Uuid>,
    sender_wallet_address: Option<String>,
    recipient_wallet_address: Option<String>,
    size: Numeric,
    created_at: IsoTime,
    created_at_height: IntString,
    transaction_hash: String,
    symbol: String,
    sender_address: Option<String>,
    sender_number: Option<i32>,
    recipient_address: Option<String>,
    recipient_number: Option<i32>,
}

fn push_filters(query: &mut QueryBuilder<'_, Postgres>, ids: &[Uuid], filter: &TransfersFilter) {
    if let [id] = ids {
        query
            .push(r#" WHERE (t."senderSubaccountId" = "#)
            .push_bind(*id);
        query
            .push(r#" OR t."recipientSubaccountId" = "#)
            .push_bind(*id)
            .push(")");
    } else {
        // Parent: touching any child, but not moving funds between two children.
        query
            .push(r#" WHERE (t."senderSubaccountId" = ANY("#)
            .push_bind(ids.to_vec());
        query
            .push(r#") OR t."recipientSubaccountId" = ANY("#)
            .push_bind(ids.to_vec());
        // A wallet side is NULL: COALESCE keeps deposits and withdrawals in.
        query
            .push(r#")) AND NOT (COALESCE(t."senderSubaccountId" = ANY("#)
            .push_bind(ids.to_vec());
        query
            .push(r#"), false) AND COALESCE(t."recipientSubaccountId" = ANY("#)
            .push_bind(ids.to_vec())
            .push("), false))");
    }
    if let Some(height) = filter.created_before_or_at_height {
        query
            .push(r#" AND t."createdAtHeight" <= "#)
            .push_bind(height);
    }
    if let Some(time) = filter.created_before_or_at {
        query.push(r#" AND t."createdAt" <= "#).push_bind(time);
    }
}

/// Transfers touching the selected subaccount(s), newest first. 404 when the subaccount (or
/// every child) is missing.
pub async fn transfers(
    pool: &PgPool,
    selector: &SubaccountSelector,
    filter: &TransfersFilter,
) -> Result<Paged<Transfer>, QueryError> {
    let ids = selector.subaccount_ids();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM subaccounts WHERE id = ANY($1))")
            .bind(&ids)
            .fetch_one(pool)
            .await?;
    if !exists {
        return Err(QueryError::NotFound(selector.not_found()));
    }
    let pagination = filter.pagination;
    let mut query = QueryBuilder::new(TRANSFER_SELECT);
    push_filters(&mut query, &ids, filter);
    query.push(r#" ORDER BY t."createdAtHeight" DESC, t."eventId" DESC LIMIT "#);
    query.push_bind(i64::from(pagination.limit));
    query.push(" OFFSET ").push_bind(pagination.offset() as i64);
    let rows: Vec<TransferRow> = query.build_query_as().fetch_all(pool).await?;
    let page = match pagination.page {
        Some(_) => {
            let mut count = QueryBuilder::new("SELECT count(*) FROM transfers t");
            push_filters(&mut count, &ids, filter);
            pagination.info(count.build_query_scalar().fetch_one(pool).await?)
        }
        None => None,
    };
    let items = rows
        .into_iter()
        .map(|row| transfer_response(selector, &ids, row))
        .collect::<Result<_, _>>()?;
    Ok(Paged { items, page })
}

fn transfer_response(
    selector: &SubaccountSelector,
    ids: &[Uuid],
    row: TransferRow,
) -> Result<Transfer, QueryError> {
    let parent = matches!(selector, SubaccountSelector::Parent { .. });
    let party = |wallet: Option<String>, address: Option<String>, number: Option<i32>| {
        let address = wallet.clone().or(address).ok_or_else(|| {
            QueryError::Inconsistent(format!("transfer {} has a side without an address", row.id))
        })?;
        let number = if wallet.is_some() { None } else { number };
        Ok::<_, QueryError>(TransferParty {
            address,
            subaccount_number: number.filter(|_| !parent),
            parent_subaccount_number: number
                .filter(|_| parent)
                .map(|n| n % MAX_PARENT_SUBACCOUNTS as i32),
        })
    };
    let sender = party(
        row.sender_wallet_address.clone(),
        row.sender_address.clone(),
        row.sender_number,
    )?;
    let recipient = party(
        row.recipient_wallet_address.clone(),
        row.recipient_address.clone(),
        row.recipient_number,
    )?;
    let outgoing = match selector {
        SubaccountSelector::Single { .. } => row
            .sender_subaccount_id
            .is_some_and(|sender| ids.contains(&sender)),
        SubaccountSelector::Parent { address, parent } => {
            sender.address == *address && sender.parent_subaccount_number == Some(*parent as i32)
        }
    };
    let transfer_type = match (
        outgoing,
        row.sender_subaccount_id,
        row.recipient_subaccount_id,
    ) {
        (true, _, Some(_)) => "TRANSFER_OUT",
        (true, _, None) => "WITHDRAWAL",
        (false, Some(_), _) => "TRANSFER_IN",
        (false, None, _) => "DEPOSIT",
    };
    Ok(Transfer {
        id: row.id,
        sender,
        recipient,
        size: row.size,
        created_at: row.created_at,
        created_at_height: row.created_at_height,
        symbol: row.symbol,
        transfer_type: transfer_type.to_owned(),
        transaction_hash: row.transaction_hash,
    })
}

/// `GET /v4/transfers/between`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransfersBetweenResponse {
    pub transfers_subset: Vec<Transfer>,
    /// Σ(source → recipient) − Σ(recipient → source) over all time.
    pub total_net_transfers: Numeric,
}

/// Up to `limit` USDC transfers in either direction between two subaccounts, newest first, typed
/// from the source's point of view, with the all-time net amount.
pub async fn transfers_between(
    pool: &PgPool,
    source: (&str, u32),
    recipient: (&str, u32),
    filter: &TransfersFilter,
) -> Result<TransfersBetweenResponse, QueryError> {
    let source_id = indexer_domain::ids::subaccount_uuid(source.0, source.1);
    let recipient_id = indexer_domain::ids::subaccount_uuid(recipient.0, recipient.1);
    let pair = |query: &mut QueryBuilder<'_, Postgres>| {
        query.push(r#" WHERE t."assetId" = '0' AND ((t."senderSubaccountId" = "#);
        query
            .push_bind(source_id)
            .push(r#" AND t."recipientSubaccountId" = "#);
        query
            .push_bind(recipient_id)
            .push(r#") OR (t."senderSubaccountId" = "#);
        query
            .push_bind(recipient_id)
            .push(r#" AND t."recipientSubaccountId" = "#);
        query.push_bind(source_id).push("))");
    };
    let mut query = QueryBuilder::new(TRANSFER_SELECT);
    pair(&mut query);
    if let Some(height) = filter.created_before_or_at_height {
        query
            .push(r#" AND t."createdAtHeight" <= "#)
            .push_bind(height);
    }
    if let Some(time) = filter.created_before_or_at {
        query.push(r#" AND t."createdAt" <= "#).push_bind(time);
    }
    query.push(r#" ORDER BY t."createdAtHeight" DESC, t."eventId" DESC LIMIT "#);
    query.push_bind(i64::from(filter.pagination.limit));
    let rows: Vec<TransferRow> = query.build_query_as().fetch_all(pool).await?;

    let mut net = QueryBuilder::new(r#"SELECT COALESCE(sum(CASE WHEN t."senderSubaccountId" = "#);
    net.push_bind(source_id);
    net.push(" THEN t.size ELSE -t.size END), 0) FROM transfers t");
    pair(&mut net);
    let total: Numeric = net.build_query_scalar().fetch_one(pool).await?;

    let selector = SubaccountSelector::Single {
        address: source.0.to_owned(),
        number: source.1,
    };
    let transfers_subset = rows
        .into_iter()
        .map(|row| transfer_response(&selector, &[source_id], row))
        .collect::<Result<_, _>>()?;
    Ok(TransfersBetweenResponse {
        transfers_subset,
        total_net_transfers: Numeric::computed(total.into_decimal()),
    })
}
