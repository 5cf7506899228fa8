#!/usr/bin/env bash
# The virtualenv with comlink's Python test tools (dYdX's official client and schemathesis);
# prints its python. A venv of its own under target/ (ignored by git): the client pins v4-proto
# 8.2.0 while the repository's .venv pins 9.6.1 for the wire tests.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${here}/../../.." && pwd)"
exec "${repo_root}/scripts/python-env.sh" "${here}/requirements.txt" \
    "${COMLINK_PYTHON_VENV:-${repo_root}/target/comlink-python-venv}"
