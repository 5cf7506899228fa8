"""A client that offers permessage-deflate (the `websockets` library does by default) against socks.

Usage: deflate_client.py <ws url>

Connects, subscribes to the order book of BTC-USD (unbatched) and to v4_markets, prints READY
once both are subscribed, collects two data frames, then prints one JSON line: the negotiated
extension and every frame it received, each decoded by the library (inflated) and parsed as JSON.
"""

import asyncio
import json
import sys

from websockets.asyncio.client import connect


async def main(url):
    seen = {"extensions": None, "frames": []}
    async with connect(url, max_size=2**22) as ws:
        seen["extensions"] = ws.response.headers.get("Sec-WebSocket-Extensions")
        await ws.send(json.dumps({"type": "subscribe", "channel": "v4_orderbook", "id": "BTC-USD"}))
        await ws.send(json.dumps({"type": "subscribe", "channel": "v4_markets"}))
        subscribed = data = 0
        while data < 2:
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            seen["frames"].append(message)
            if message["type"] == "subscribed":
                subscribed += 1
                if subscribed == 2:
                    print("READY", flush=True)
            elif message["type"] in ("channel_data", "channel_batch_data"):
                data += 1
            elif message["type"] == "error":
                break
    print(json.dumps(seen), flush=True)


asyncio.run(main(sys.argv[1]))
