#!/usr/bin/env bash
# Creates (if missing) a Python virtualenv for the tests and installs a requirements file into
# it. Idempotent: re-running only installs when the requirements changed.
# Usage: scripts/python-env.sh [REQUIREMENTS [VENV]]
#   default: requirements-test.txt into .venv at the repo root.
# Prints the path of the venv's python on stdout (everything else goes to stderr).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="${1:-${repo_root}/requirements-test.txt}"
venv="${2:-${repo_root}/.venv}"
stamp="${venv}/.requirements.sha256"

# Tests run in parallel processes and several may ask for the same venv at once: one creates it,
# the others wait (a half-made venv has no pip yet).
mkdir -p "$(dirname "${venv}")"
exec 9>"${venv}.lock"
flock 9

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
