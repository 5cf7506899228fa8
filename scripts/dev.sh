#!/usr/bin/env bash
# Runs the whole stack on loopback: infrastructure, migrations, topics, every service and the
# simulated chain at a human pace (one block a second). Logs go to .infra/logs/. Ctrl-C stops
# everything cleanly.
#
# Every start is fresh: the simulated chain begins at height 0, so the database and the Redis
# book are cleared first (DEV_KEEP_STATE=1 keeps them).
# Overrides: PORT (REST, 8080), WS_PORT (websocket, 8081), DEV_ADMIN_PORT_BASE (9001: ender,
# vulcan, roundtable, comlink, socks, devnet get 9001..9006), DEVNET_BLOCK_INTERVAL_MS (1000),
# DB_NAME (indexer), REDIS_KEY_PREFIX and KAFKA_TOPIC_PREFIX (empty), DEV_RELEASE=1 (release build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
LOGS="$ROOT/.infra/logs"
mkdir -p "$LOGS"

export NODE_ENV="${NODE_ENV:-development}"
export DB_NAME="${DB_NAME:-indexer}"
export PORT="${PORT:-8080}" WS_PORT="${WS_PORT:-8081}"
export HOST="${HOST:-127.0.0.1}" WS_HOST="${WS_HOST:-127.0.0.1}"
export DEVNET_BLOCK_INTERVAL_MS="${DEVNET_BLOCK_INTERVAL_MS:-1000}"
export LIVE_PAGE_WS_URL="${LIVE_PAGE_WS_URL:-ws://127.0.0.1:$WS_PORT/v4/ws}"
# tansu holds a new consumer group's first join for about half the session timeout; 10 s keeps
# start-up quick locally (production keeps the 60 s default).
export KAFKA_SESSION_TIMEOUT_MS="${KAFKA_SESSION_TIMEOUT_MS:-10000}"
export KAFKA_HEARTBEAT_INTERVAL_MS="${KAFKA_HEARTBEAT_INTERVAL_MS:-3000}"
# The markets appear with the chain's first blocks, after comlink and socks started.
export MARKET_CACHE_REFRESH_MS="${MARKET_CACHE_REFRESH_MS:-2000}"
export PERPETUAL_MARKETS_REFRESHER_INTERVAL_MS="${PERPETUAL_MARKETS_REFRESHER_INTERVAL_MS:-2000}"

SERVICES=(ender vulcan roundtable comlink socks devnet)
ADMIN_BASE="${DEV_ADMIN_PORT_BASE:-9001}"
declare -A ADMIN_PORTS
for i in "${!SERVICES[@]}"; do ADMIN_PORTS[${SERVICES[$i]}]=$((ADMIN_BASE + i)); done

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$PORT" "$WS_PORT" "${ADMIN_PORTS[@]}"; do
  if listening "$port"; then
    echo "[dev] port $port is already taken (another dev.sh?); set PORT / WS_PORT / DEV_ADMIN_PORT_BASE" >&2
    exit 1
  fi
done

scripts/infra.sh up
PROFILE=debug; BUILD_FLAGS=()
if [ -n "${DEV_RELEASE:-}" ]; then PROFILE=release; BUILD_FLAGS=(--release); fi
echo "[dev] building the services ($PROFILE)"
cargo build "${BUILD_FLAGS[@]}" -q $(printf -- '-p %s ' bazooka "${SERVICES[@]}")
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE"

"$BIN/bazooka" migrate
"$BIN/bazooka" create-topics
if [ -z "${DEV_KEEP_STATE:-}" ]; then
  echo "[dev] fresh start: clearing the database and Redis (DEV_KEEP_STATE=1 keeps them)"
  "$BIN/bazooka" clear-db
  "$BIN/bazooka" clear-redis
fi

PIDS=()
stop_all() {
  trap - INT TERM
  echo; echo "[dev] stopping"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "[dev] stopped"
  exit 0
}
trap stop_all INT TERM

start() { # service
  ADMIN_PORT="${ADMIN_PORTS[$1]}" "$BIN/$1" >"$LOGS/$1.log" 2>&1 &
  PIDS+=($!)
}
wait_healthy() { # service
  local port="${ADMIN_PORTS[$1]}"
  for _ in $(seq 1 150); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

# The chain starts last, once every consumer is up, so nothing it publishes is missed.
for svc in "${SERVICES[@]}"; do
  [ "$svc" = devnet ] && continue
  start "$svc"
done
for svc in "${SERVICES[@]}"; do
  [ "$svc" = devnet ] && continue
  if wait_healthy "$svc"; then
    echo "[dev] $svc healthy   metrics: http://127.0.0.1:${ADMIN_PORTS[$svc]}/metrics   log: $LOGS/$svc.log"
  else
    echo "[dev] $svc did not become healthy; see $LOGS/$svc.log"
  fi
done
for _ in $(seq 1 150); do
  curl -fs "http://127.0.0.1:${ADMIN_PORTS[socks]}/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
start devnet
wait_healthy devnet && echo "[dev] devnet healthy   metrics: http://127.0.0.1:${ADMIN_PORTS[devnet]}/metrics   log: $LOGS/devnet.log (a block every ${DEVNET_BLOCK_INTERVAL_MS} ms)"

echo "[dev] REST       http://127.0.0.1:$PORT/v4/height   (OpenAPI: http://127.0.0.1:$PORT/docs)"
echo "[dev] GraphQL    http://127.0.0.1:$PORT/graphql"
echo "[dev] websocket  $LIVE_PAGE_WS_URL"
echo "[dev] live page  http://127.0.0.1:$PORT/live"
echo "[dev] Ctrl-C stops everything."
# `wait` returns early when a child exits; keep waiting until Ctrl-C.
while true; do wait || true; sleep 1; done
