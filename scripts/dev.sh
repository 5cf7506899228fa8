#!/usr/bin/env bash
# Runs the whole stack on loopback: infrastructure, migrations, topics, every service and the
# simulated chain. Logs go to .infra/logs/. Ctrl-C stops everything cleanly.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
LOGS="$ROOT/.infra/logs"
mkdir -p "$LOGS"

scripts/infra.sh up
echo "[dev] building the services"
cargo build --bins -q

BIN="$ROOT/target/debug"
export NODE_ENV="${NODE_ENV:-development}"
export DB_NAME="${DB_NAME:-indexer}"
# tansu holds a new consumer group's first join for about half the session timeout; 10 s keeps
# start-up quick locally (production keeps the 60 s default).
export KAFKA_SESSION_TIMEOUT_MS="${KAFKA_SESSION_TIMEOUT_MS:-10000}"
export KAFKA_HEARTBEAT_INTERVAL_MS="${KAFKA_HEARTBEAT_INTERVAL_MS:-3000}"
"$BIN/bazooka" migrate
"$BIN/bazooka" create-topics

SERVICES=(ender vulcan roundtable comlink socks devnet)
declare -A ADMIN_PORTS=([ender]=9001 [vulcan]=9002 [roundtable]=9003 [comlink]=9004 [socks]=9005 [devnet]=9006)
PIDS=()

stop_all() {
  echo; echo "[dev] stopping"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "[dev] stopped"
  exit 0
}
trap stop_all INT TERM

for svc in "${SERVICES[@]}"; do
  ADMIN_PORT="${ADMIN_PORTS[$svc]}" "$BIN/$svc" >"$LOGS/$svc.log" 2>&1 &
  PIDS+=($!)
done

for svc in "${SERVICES[@]}"; do
  port="${ADMIN_PORTS[$svc]}"
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  if curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
    echo "[dev] $svc healthy   metrics: http://127.0.0.1:$port/metrics   log: $LOGS/$svc.log"
  else
    echo "[dev] $svc did not become healthy; see $LOGS/$svc.log"
  fi
done
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for entry in "8080 REST      http://127.0.0.1:8080/v4/height" "8080 GraphQL   http://127.0.0.1:8080/graphql" \
             "8081 websocket ws://127.0.0.1:8081/v4/ws"; do
  set -- $entry
  if listening "$1"; then echo "[dev] $2: $3"; else echo "[dev] $2: not served yet (that service is still a skeleton)"; fi
done
echo "[dev] Ctrl-C stops everything."
wait
