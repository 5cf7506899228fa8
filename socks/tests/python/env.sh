#!/usr/bin/env bash
# Creates (if missing) the virtualenv with dYdX's official Python client used by
# socks/tests/python_client.rs and prints its python on stdout (everything else on stderr).
# The venv lives under target/ (ignored by git); re-running only installs what changed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${here}/../../.." && pwd)"
venv="${SOCKS_CLIENT_VENV:-${repo_root}/target/socks-client-venv}"
requirements="${here}/requirements.txt"
stamp="${venv}/.requirements.sha256"

if [[ ! -x "${venv}/bin/python" ]]; then
    python3 -m venv "${venv}" >&2
fi

wanted="$(sha256sum "${requirements}" | cut -d' ' -f1)"
if [[ ! -f "${stamp}" || "$(cat "${stamp}")" != "${wanted}" ]]; then
    "${venv}/bin/python" -m pip install --disable-pip-version-check --quiet \
        -r "${requirements}" >&2
    echo "${wanted}" >"${stamp}"
fi

echo "${venv}/bin/python"
