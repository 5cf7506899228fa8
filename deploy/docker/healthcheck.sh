#!/bin/sh
# Container health check of the indexer image: GET /healthz on the admin port of the indexer
# service running in this container. The image holds every binary and the task's command picks
# one, so the service is found among the running processes; ADMIN_PORT, when set, wins over the
# service's default admin port. A container running no long-lived service (a bazooka job) is
# healthy. ECS task definitions carry their own equivalent check with the port filled in.
set -eu

default_port() {
    # Keep in step with DEFAULT_ADMIN_PORT in each service's src/main.rs
    # (deploy/ecs/tests/validate.py checks these).
    case "$1" in
        ender) echo 9001 ;;
        vulcan) echo 9002 ;;
        roundtable) echo 9003 ;;
        comlink) echo 9004 ;;
        socks) echo 9005 ;;
        devnet) echo 9006 ;;
        *) return 1 ;;
    esac
}

running_service() {
    for comm in /proc/[0-9]*/comm; do
        name="$(cat "$comm" 2>/dev/null)" || continue
        if default_port "$name" >/dev/null; then
            echo "$name"
            return 0
        fi
    done
    return 1
}

port="${ADMIN_PORT:-}"
if [ -z "$port" ]; then
    service="$(running_service)" || exit 0
    port="$(default_port "$service")"
fi
exec curl -fsS --max-time 4 -o /dev/null "http://127.0.0.1:${port}/healthz"
