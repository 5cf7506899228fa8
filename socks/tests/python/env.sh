#!/usr/bin/env bash
# The virtualenv with dYdX's official Python client used by socks/tests/python_client.rs; prints
# its python. A venv of its own (under target/, ignored by git): the client pins v4-proto 8.2.0,
# while the repository's .venv pins 9.6.1 for the wire tests.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${here}/../../.." && pwd)"
exec "${repo_root}/scripts/python-env.sh" "${here}/requirements.txt" \
    "${SOCKS_CLIENT_VENV:-${repo_root}/target/socks-client-venv}"
