#!/usr/bin/env bash
# A tiny replica's export shared by every test that needs it (tests/shared_exports.py): built once, its paths
# printed as JSON. Usage: shared-export.sh wan|wan-i2v|ltx2
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/venv.sh"
exec "$root/.venv/bin/python" "$root/tests/shared_exports.py" "$@"
