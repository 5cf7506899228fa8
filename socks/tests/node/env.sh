#!/usr/bin/env bash
# Installs (if missing) the `ws` package for socks/tests/deflate.rs under target/ and prints the
# node_modules directory. Idempotent: re-running only installs when package.json changed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${here}/../../.." && pwd)"
dir="${SOCKS_NODE_DIR:-${repo_root}/target/socks-node-client}"
stamp="${dir}/.package.sha256"
wanted="$(sha256sum "${here}/package.json" | cut -d' ' -f1)"
if [[ ! -f "${stamp}" || "$(cat "${stamp}")" != "${wanted}" ]]; then
    mkdir -p "${dir}"
    cp "${here}/package.json" "${dir}/package.json"
    (cd "${dir}" && npm install --no-audit --no-fund --silent >&2)
    echo "${wanted}" >"${stamp}"
fi
echo "${dir}/node_modules"
