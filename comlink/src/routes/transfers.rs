//! `GET /v4/transfers` and `…/parentSubaccountNumber` (serve.md §4.3.9).

use axum::Json;
use indexer_query::subaccounts::SubaccountSelector;
use indexer_query::transfers::{
    self, TransfersBetweenResponse, TransfersFilter, TransfersResponse,
};
use indexer_query::Pagination;

use crate::ctx::Ctx;
use crate::error::{ApiResult, ErrorBody, Location, ValidationErrorBody};
use crate::params::{
    parse_dydx_address, parse_int, Validator, MAX_SUBACCOUNT_NUMBER, MSG_DYDX_ADDRESS,
    MSG_SUBACCOUNT_NUMBER,
};
use crate::routes::{account_request, validated, AccountScope};

/// Transfers, deposits and withdrawals of a subaccount, newest first.
#[utoipa::path(get, path = "/v4/transfers", tag = "accounts",
    params(("address" = String, Query), ("subaccountNumber" = u32, Query),
        ("limit" = Option<u32>, Query), ("createdBeforeOrAtHeight" = Option<u64>, Query),
        ("createdBeforeOrAt" = Option<String>, Query), ("page" = Option<u32>, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = TransfersResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_transfers(ctx: Ctx) -> ApiResult<Json<TransfersResponse>> {
    let (selector, filter) = account_request(&ctx, AccountScope::Subaccount, filter)?;
    respond(&ctx, selector, filter).await
}

/// Transfers of a parent's children with outside parties (not between the children).
#[utoipa::path(get, path = "/v4/transfers/parentSubaccountNumber", tag = "accounts",
    params(("address" = String, Query), ("parentSubaccountNumber" = u32, Query),
        ("limit" = Option<u32>, Query), ("createdBeforeOrAtHeight" = Option<u64>, Query),
        ("createdBeforeOrAt" = Option<String>, Query), ("page" = Option<u32>, Query),
        ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = TransfersResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_parent_transfers(ctx: Ctx) -> ApiResult<Json<TransfersResponse>> {
    let (selector, filter) = account_request(&ctx, AccountScope::ParentSubaccount, filter)?;
    respond(&ctx, selector, filter).await
}

fn filter(v: &mut Validator<'_>) -> TransfersFilter {
    let limit = v.limit();
    let height = v.non_negative_int("createdBeforeOrAtHeight");
    let before = v.iso_time("createdBeforeOrAt");
    let page = v.page();
    TransfersFilter {
        created_before_or_at_height: height.filter(|h| *h != 0),
        created_before_or_at: before,
        pagination: Pagination::new(limit, page),
    }
}

async fn respond(
    ctx: &Ctx,
    selector: SubaccountSelector,
    filter: TransfersFilter,
) -> ApiResult<Json<TransfersResponse>> {
    ctx.check_compliance(Some(selector.address())).await?;
    let db = ctx.reader().await?;
    Ok(Json(
        transfers::transfers(&db.pool, &selector, &filter)
            .await?
            .into(),
    ))
}

/// USDC transfers between two subaccounts with their all-time net amount (geo check only).
#[utoipa::path(get, path = "/v4/transfers/between", tag = "accounts",
    params(("sourceAddress" = String, Query), ("sourceSubaccountNumber" = u32, Query),
        ("recipientAddress" = String, Query), ("recipientSubaccountNumber" = u32, Query),
        ("createdBeforeOrAtHeight" = Option<u64>, Query),
        ("createdBeforeOrAt" = Option<String>, Query), ("minHeight" = Option<u64>, Query)),
    responses(
        (status = 200, body = TransfersBetweenResponse),
        (status = 400, body = ValidationErrorBody),
        (status = 403, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn get_transfers_between(ctx: Ctx) -> ApiResult<Json<TransfersBetweenResponse>> {
    let mut v = ctx.validator();
    let address = |v: &mut Validator<'_>, name: &str| {
        v.check(
            Location::Query,
            name,
            true,
            MSG_DYDX_ADDRESS,
            parse_dydx_address,
        )
    };
    let source = address(&mut v, "sourceAddress");
    let source_number = number(&mut v, "sourceSubaccountNumber");
    let recipient = address(&mut v, "recipientAddress");
    let recipient_number = number(&mut v, "recipientSubaccountNumber");
    let height = v.non_negative_int("createdBeforeOrAtHeight");
    let before = v.iso_time("createdBeforeOrAt");
    ctx.finish(v)?;
    ctx.check_compliance(None).await?;
    let db = ctx.reader().await?;
    let (source, recipient) = (validated(source), validated(recipient));
    let filter = TransfersFilter {
        created_before_or_at_height: height.filter(|h| *h != 0),
        created_before_or_at: before,
        pagination: Pagination::new(ctx.state.settings().api_limit, None),
    };
    let response = transfers::transfers_between(
        &db.pool,
        (&source, validated(source_number)),
        (&recipient, validated(recipient_number)),
        &filter,
    )
    .await?;
    Ok(Json(response))
}

fn number(v: &mut Validator<'_>, name: &str) -> Option<u32> {
    v.check(Location::Query, name, true, MSG_SUBACCOUNT_NUMBER, |text| {
        parse_int(text)
            .filter(|n| (0..=i64::from(MAX_SUBACCOUNT_NUMBER)).contains(n))
            .map(|n| n as u32)
    })
}
