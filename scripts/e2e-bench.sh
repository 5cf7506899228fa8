#!/usr/bin/env bash
# End-to-end benchmark: the simulated chain at full speed through ender, vulcan, socks and
# comlink (release builds, real Postgres/Redis/Kafka on loopback, fresh database and topics).
# Writes a markdown table to target/e2e-bench.md (--out PATH to change) and prints it.
# Options go to the bench: --seconds N (30) --connections N (100) --rest-seconds N (10)
#   --rest-clients N (8) --blocks-per-second N|max (max) --out PATH
# DEBUG=1 uses debug builds (quicker to build, slower to run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/infra.sh up
PROFILE=(--release)
[ -n "${DEBUG:-}" ] && PROFILE=()
cargo build "${PROFILE[@]}" -q -p ender -p vulcan -p socks -p comlink -p devnet --bins
cargo run "${PROFILE[@]}" -q -p devnet --example e2e_bench -- "$@"
