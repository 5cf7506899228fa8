"""Calls every REST method of dYdX's official Python client (`dydx-v4-client`, its
`IndexerClient`) against a running comlink and reports what each one parsed.

Usage: indexer_client.py BASE_URL FACTS_JSON

FACTS_JSON names the seeded data (addresses, an order id, a ticker, ...). The methods are
enumerated from the client's modules, so a method this script does not know is reported as an
error instead of being skipped. Each call's result is reduced, by reading the fields a bot reads,
to a small JSON summary; a wrong shape (a missing key, a number where a string belongs) raises.

Prints one JSON object on stdout:
  {"methods": [...every enumerated method...],
   "results": {method: summary}, "gaps": {method: reason}, "errors": {method: message}}
"""

import asyncio
import inspect
import json
import sys
from decimal import Decimal

import httpx
from dydx_v4_client.indexer.rest.indexer_client import IndexerClient

MODULES = ["markets", "account", "utility", "megavault", "affiliate"]
# RestClient plumbing, not API methods.
NOT_API = {"get", "post"}

# Methods whose route comlink does not serve yet, with the reason. They are still called: a 404
# is reported as a gap, any other failure as an error, and a success is checked like any method.
KNOWN_GAPS = {
    "megavault.get_megavault_historical_pnl": "vault routes (/v4/vault/v1/*) are being added in a separate change",
    "megavault.get_vaults_historical_pnl": "vault routes (/v4/vault/v1/*) are being added in a separate change",
    "megavault.get_megavault_positions": "vault routes (/v4/vault/v1/*) are being added in a separate change",
    "affiliate.get_snapshot": "/v4/affiliates/snapshot is being added in a separate change",
}


def dec(text):
    """A decimal string as the API sends it (never a JSON number)."""
    if not isinstance(text, str):
        raise TypeError(f"expected a decimal string, got {text!r}")
    return str(Decimal(text))


def opt_dec(text):
    return None if text is None else dec(text)


def market_summary(m):
    return {
        "ticker": m["ticker"],
        "oraclePrice": dec(m["oraclePrice"]),
        "status": m["status"],
        "tickSize": dec(m["tickSize"]),
        "stepSize": dec(m["stepSize"]),
        "clobPairId": m["clobPairId"],
        "atomicResolution": m["atomicResolution"],
    }


def levels(side):
    return [[dec(level["price"]), dec(level["size"])] for level in side]


def position_summary(p):
    return {
        "market": p["market"],
        "status": p["status"],
        "side": p["side"],
        "size": dec(p["size"]),
        "entryPrice": dec(p["entryPrice"]),
        "unrealizedPnl": dec(p["unrealizedPnl"]),
        "subaccountNumber": p["subaccountNumber"],
    }


def asset_summary(a):
    return {
        "symbol": a["symbol"],
        "side": a["side"],
        "size": dec(a["size"]),
        "subaccountNumber": a["subaccountNumber"],
    }


def subaccount_summary(s):
    return {
        "address": s["address"],
        "subaccountNumber": s["subaccountNumber"],
        "equity": dec(s["equity"]),
        "freeCollateral": dec(s["freeCollateral"]),
        "openPerpetualPositions": {
            ticker: position_summary(p) for ticker, p in s["openPerpetualPositions"].items()
        },
        "assetPositions": {sym: asset_summary(a) for sym, a in s["assetPositions"].items()},
    }


def fill_summary(f):
    return {
        "id": f["id"],
        "market": f["market"],
        "side": f["side"],
        "size": dec(f["size"]),
        "price": dec(f["price"]),
        "fee": dec(f["fee"]),
        "createdAtHeight": f["createdAtHeight"],
        "orderId": f.get("orderId"),
    }


def order_summary(o):
    return {
        "id": o["id"],
        "ticker": o["ticker"],
        "side": o["side"],
        "size": dec(o["size"]),
        "price": dec(o["price"]),
        "status": o["status"],
        "clientId": o["clientId"],
    }


def transfer_summary(t):
    return {
        "id": t["id"],
        "type": t["type"],
        "size": dec(t["size"]),
        "symbol": t["symbol"],
        "sender": t["sender"]["address"],
        "recipient": t["recipient"]["address"],
        "createdAtHeight": t["createdAtHeight"],
    }


def calls(facts):
    """method name -> (coroutine factory, summariser)."""
    a = facts["address"]
    n = facts["subaccountNumber"]
    ticker = facts["ticker"]
    return {
        # utility
        "utility.get_time": (lambda c: c.utility.get_time(), lambda r: {"iso": r["iso"], "epoch": r["epoch"]}),
        "utility.get_height": (lambda c: c.utility.get_height(), lambda r: {"height": r["height"], "time": r["time"]}),
        "utility.screen": (lambda c: c.utility.screen(a), lambda r: {"restricted": r["restricted"]}),
        "utility.compliance_screen": (
            lambda c: c.utility.compliance_screen(a),
            lambda r: {"status": r["status"]},
        ),
        # markets
        "markets.get_perpetual_markets": (
            lambda c: c.markets.get_perpetual_markets(),
            lambda r: {t: market_summary(m) for t, m in r["markets"].items()},
        ),
        "markets.get_perpetual_market_orderbook": (
            lambda c: c.markets.get_perpetual_market_orderbook(ticker),
            lambda r: {"bids": levels(r["bids"]), "asks": levels(r["asks"])},
        ),
        "markets.get_perpetual_market_trades": (
            lambda c: c.markets.get_perpetual_market_trades(
                ticker, starting_before_or_at_height=facts["height"], limit=5
            ),
            lambda r: [
                {"id": t["id"], "side": t["side"], "size": dec(t["size"]), "price": dec(t["price"]),
                 "createdAtHeight": t["createdAtHeight"]}
                for t in r["trades"]
            ],
        ),
        "markets.get_perpetual_market_candles": (
            lambda c: c.markets.get_perpetual_market_candles(ticker, "1MIN", limit=3),
            lambda r: [
                {"ticker": k["ticker"], "resolution": k["resolution"], "close": dec(k["close"]),
                 "trades": k["trades"], "startedAt": k["startedAt"]}
                for k in r["candles"]
            ],
        ),
        "markets.get_perpetual_market_historical_funding": (
            lambda c: c.markets.get_perpetual_market_historical_funding(ticker, limit=10),
            lambda r: [
                {"ticker": h["ticker"], "rate": dec(h["rate"]), "price": dec(h["price"]),
                 "effectiveAtHeight": h["effectiveAtHeight"]}
                for h in r["historicalFunding"]
            ],
        ),
        "markets.get_perpetual_market_sparklines": (
            lambda c: c.markets.get_perpetual_market_sparklines(),
            lambda r: {t: [dec(p) for p in points] for t, points in r.items()},
        ),
        # account
        "account.get_subaccounts": (
            lambda c: c.account.get_subaccounts(a, limit=10),
            lambda r: [subaccount_summary(s) for s in r["subaccounts"]],
        ),
        "account.get_subaccount": (
            lambda c: c.account.get_subaccount(a, n),
            lambda r: subaccount_summary(r["subaccount"]),
        ),
        "account.get_parent_subaccount": (
            lambda c: c.account.get_parent_subaccount(a, n),
            lambda r: {
                "address": r["subaccount"]["address"],
                "parentSubaccountNumber": r["subaccount"]["parentSubaccountNumber"],
                "equity": dec(r["subaccount"]["equity"]),
                "freeCollateral": dec(r["subaccount"]["freeCollateral"]),
                "childSubaccounts": [subaccount_summary(s) for s in r["subaccount"]["childSubaccounts"]],
            },
        ),
        "account.get_subaccount_perpetual_positions": (
            lambda c: c.account.get_subaccount_perpetual_positions(a, n, status="OPEN", limit=100),
            lambda r: [position_summary(p) for p in r["positions"]],
        ),
        "account.get_parent_subaccount_positions": (
            lambda c: c.account.get_parent_subaccount_positions(a, n, limit=100),
            lambda r: [position_summary(p) for p in r["positions"]],
        ),
        "account.get_subaccount_asset_positions": (
            lambda c: c.account.get_subaccount_asset_positions(a, n),
            lambda r: [asset_summary(p) for p in r["positions"]],
        ),
        "account.get_parent_subaccount_asset_positions": (
            lambda c: c.account.get_parent_subaccount_asset_positions(a, n),
            lambda r: [asset_summary(p) for p in r["positions"]],
        ),
        "account.get_subaccount_transfers": (
            lambda c: c.account.get_subaccount_transfers(a, n, limit=100),
            lambda r: [transfer_summary(t) for t in r["transfers"]],
        ),
        "account.get_parent_transfers": (
            lambda c: c.account.get_parent_transfers(a, n, limit=100),
            lambda r: [transfer_summary(t) for t in r["transfers"]],
        ),
        "account.get_transfer_between": (
            lambda c: c.account.get_transfer_between(
                facts["transferSender"], 0, facts["transferRecipient"], 0
            ),
            lambda r: [transfer_summary(t) for t in r["transfersSubset"]],
        ),
        "account.get_subaccount_orders": (
            lambda c: c.account.get_subaccount_orders(a, n, ticker=ticker, limit=1000),
            lambda r: [order_summary(o) for o in r],
        ),
        "account.list_parent_orders": (
            lambda c: c.account.list_parent_orders(a, n, limit=1000),
            lambda r: [order_summary(o) for o in r],
        ),
        "account.get_order": (
            lambda c: c.account.get_order(facts["orderId"]),
            order_summary,
        ),
        "account.get_subaccount_fills": (
            lambda c: c.account.get_subaccount_fills(a, n, ticker=ticker, limit=1000),
            lambda r: [fill_summary(f) for f in r["fills"]],
        ),
        "account.get_parent_fills": (
            lambda c: c.account.get_parent_fills(a, n, limit=1000),
            lambda r: [fill_summary(f) for f in r["fills"]],
        ),
        "account.get_subaccount_historical_pnls": (
            lambda c: c.account.get_subaccount_historical_pnls(a, n),
            lambda r: [
                {"equity": dec(p["equity"]), "totalPnl": dec(p["totalPnl"]),
                 "blockHeight": p["blockHeight"]}
                for p in r["historicalPnl"]
            ],
        ),
        "account.get_parent_historical_pnls": (
            lambda c: c.account.get_parent_historical_pnls(a, n, limit=100),
            lambda r: [
                {"equity": dec(p["equity"]), "totalPnl": dec(p["totalPnl"]),
                 "blockHeight": p["blockHeight"]}
                for p in r["historicalPnl"]
            ],
        ),
        "account.get_historical_block_trading_rewards": (
            lambda c: c.account.get_historical_block_trading_rewards(a, limit=10),
            lambda r: [
                {"tradingReward": dec(x["tradingReward"]), "createdAtHeight": x["createdAtHeight"]}
                for x in r["rewards"]
            ],
        ),
        "account.get_historical_trading_rewards_aggregated": (
            lambda c: c.account.get_historical_trading_rewards_aggregated(a, "DAILY", limit=10),
            lambda r: [
                {"tradingReward": dec(x["tradingReward"]), "period": x["period"],
                 "startedAtHeight": x["startedAtHeight"]}
                for x in r["rewards"]
            ],
        ),
        "account.search_traders": (
            lambda c: c.account.search_traders(facts["username"]),
            lambda r: {"username": r["result"]["username"], "address": r["result"]["address"],
                       "subaccountNumber": r["result"]["subaccountNumber"]},
        ),
        "account.get_funding_payments": (
            lambda c: c.account.get_funding_payments(a, n, limit=100, ticker=ticker),
            lambda r: [
                {"ticker": p["ticker"], "payment": dec(p["payment"]), "size": dec(p["size"]),
                 "createdAtHeight": p["createdAtHeight"]}
                for p in r["fundingPayments"]
            ],
        ),
        "account.get_funding_payments_for_parent_subaccount": (
            lambda c: c.account.get_funding_payments_for_parent_subaccount(a, n, limit=100),
            lambda r: [
                {"ticker": p["ticker"], "payment": dec(p["payment"]),
                 "createdAtHeight": p["createdAtHeight"]}
                for p in r["fundingPayments"]
            ],
        ),
        # affiliates
        "affiliate.get_metadata": (
            lambda c: c.affiliate.get_metadata(facts["affiliate"]),
            lambda r: {"referralCode": r["referralCode"], "isVolumeEligible": r["isVolumeEligible"],
                       "isAffiliate": r["isAffiliate"]},
        ),
        "affiliate.get_address": (
            lambda c: c.affiliate.get_address(facts["username"]),
            lambda r: {"address": r["address"]},
        ),
        "affiliate.get_total_volume": (
            lambda c: c.affiliate.get_total_volume(a),
            lambda r: {"totalVolume": r["totalVolume"]},
        ),
        "affiliate.get_snapshot": (
            lambda c: c.affiliate.get_snapshot(limit=10, offset=0),
            lambda r: {"total": r["total"], "currentOffset": r["currentOffset"],
                       "addresses": [x["affiliateAddress"] for x in r["affiliateList"]]},
        ),
        # megavault
        "megavault.get_megavault_historical_pnl": (
            lambda c: c.megavault.get_megavault_historical_pnl("day"),
            lambda r: [{"equity": dec(p["equity"]), "totalPnl": dec(p["totalPnl"])}
                       for p in r["megavaultPnl"]],
        ),
        "megavault.get_vaults_historical_pnl": (
            lambda c: c.megavault.get_vaults_historical_pnl("day"),
            lambda r: [{"ticker": v["ticker"], "points": len(v["historicalPnl"])} for v in r["vaultsPnl"]],
        ),
        "megavault.get_megavault_positions": (
            lambda c: c.megavault.get_megavault_positions(),
            lambda r: [{"ticker": p["ticker"], "equity": dec(p["equity"])} for p in r["positions"]],
        ),
    }


def enumerate_methods(client):
    names = []
    for module in MODULES:
        for name, _ in inspect.getmembers(getattr(client, module), inspect.iscoroutinefunction):
            if not name.startswith("_") and name not in NOT_API:
                names.append(f"{module}.{name}")
    return sorted(names)


async def main(base_url, facts):
    client = IndexerClient(base_url)
    methods = enumerate_methods(client)
    table = calls(facts)
    report = {"methods": methods, "results": {}, "gaps": {}, "errors": {}}
    for method in methods:
        if method not in table:
            report["errors"][method] = "the client has this method but the test does not call it"
            continue
        call, summarise = table[method]
        try:
            report["results"][method] = summarise(await call(client))
        except httpx.HTTPStatusError as e:
            status = e.response.status_code
            if method in KNOWN_GAPS and status == 404:
                report["gaps"][method] = KNOWN_GAPS[method]
            else:
                report["errors"][method] = f"HTTP {status}: {e.response.text[:500]}"
        except Exception as e:  # a wrong shape: report which method and why
            report["errors"][method] = f"{type(e).__name__}: {e}"
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
