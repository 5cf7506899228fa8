#!/usr/bin/env bash
# Creates (if missing) the repo-local Python virtualenv used by tests and installs
# requirements-test.txt into it. Idempotent: re-running only installs what changed.
# Prints the path of the venv's python on stdout (everything else goes to stderr).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${repo_root}/.venv"
requirements="${repo_root}/requirements-test.txt"
stamp="${venv}/.requirements-test.sha256"

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
