#!/usr/bin/env bash
# Runs every test of the project against real PostgreSQL, Redis and Kafka on loopback
# (scripts/infra.sh brings them up, installing what is missing), plus the proto conformance
# test against dYdX's official Python encoder (scripts/python-env.sh prepares it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/infra.sh up
export INDEXER_PYTHON="$(scripts/python-env.sh)"

cargo fmt --all -- --check
"$INDEXER_PYTHON" deploy/ecs/tests/validate.py  # Terraform, Dockerfile and bazooka runner vs the sources

# devnet/tests/live_page.rs opens the live page in Debian's headless Chromium.
if ! command -v chromium >/dev/null 2>&1 && [ -z "${CHROMIUM:-}" ]; then
  echo "[test] installing chromium (headless browser test of the live page)" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi

if ! command -v cargo-nextest >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi
# Tests isolate themselves (own database, Redis key prefix and topic names), so they run in
# parallel; two CPU cores are the norm here.
cargo nextest run --workspace --no-fail-fast "$@"
