"""Drives dYdX's official Python websocket client (dydx-v4-client's IndexerSocket) against socks.

Usage: client.py <ws url> <address>

Subscribes to every channel the class offers with its own defaults (batched order book, trades,
markets and candles; unbatched subaccounts), prints READY once all five are subscribed, collects
five data frames, then prints one JSON line with what it received. Every frame went through the
client's own JSON decoding (`as_json`), so a frame it cannot parse fails the run.
"""

import json
import sys
import threading

from dydx_v4_client.indexer.candles_resolution import CandlesResolution
from dydx_v4_client.indexer.socket.websocket import IndexerSocket

url, address = sys.argv[1], sys.argv[2]
seen = {"connected": [], "subscribed": [], "data": [], "errors": [], "other": []}


def on_open(ws):
    ws.order_book.subscribe("BTC-USD")
    ws.trades.subscribe("BTC-USD")
    ws.markets.subscribe()
    ws.candles.subscribe("BTC-USD", CandlesResolution.ONE_MINUTE)
    ws.subaccounts.subscribe(address, 0)


def on_message(ws, message):
    kind = message["type"]
    if kind == "connected":
        seen["connected"].append(message)
    elif kind == "subscribed":
        seen["subscribed"].append(message)
        if len(seen["subscribed"]) == 5:
            print("READY", flush=True)
    elif kind in ("channel_data", "channel_batch_data"):
        seen["data"].append(message)
        if len(seen["data"]) >= 5:
            ws.close()
    elif kind == "error":
        seen["errors"].append(message)
        ws.close()
    else:
        seen["other"].append(message)


socket = IndexerSocket(url, on_open=on_open, on_message=on_message)
watchdog = threading.Timer(60, socket.close)
watchdog.start()
socket.run_forever()
watchdog.cancel()
print(json.dumps(seen), flush=True)
