// The `ws` library (v4-client-js's transport under Node), which offers permessage-deflate by
// default, against socks. Usage: NODE_PATH=<node_modules> node deflate_client.js <ws url>
// Subscribes to the BTC-USD order book (unbatched), prints READY once subscribed, then prints one
// JSON line with the negotiated extension and every frame (inflated and parsed by the library)
// after two data frames.
const WebSocket = require("ws");

const ws = new WebSocket(process.argv[2]);
const seen = { extensions: null, frames: [] };
let data = 0;
const timer = setTimeout(() => finish(), 30000);

function finish() {
  clearTimeout(timer);
  console.log(JSON.stringify(seen));
  ws.terminate();
}

ws.on("upgrade", (response) => {
  seen.extensions = response.headers["sec-websocket-extensions"] || null;
});
ws.on("open", () => {
  ws.send(JSON.stringify({ type: "subscribe", channel: "v4_orderbook", id: "BTC-USD" }));
});
ws.on("message", (raw) => {
  const message = JSON.parse(raw.toString());
  seen.frames.push(message);
  if (message.type === "subscribed") console.log("READY");
  if (message.type === "channel_data" && ++data === 2) finish();
  if (message.type === "error") finish();
});
ws.on("error", (error) => {
  console.error(String(error));
  process.exit(1);
});
