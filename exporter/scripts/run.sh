#!/usr/bin/env bash
# Runs the exporter CLI (`python -m videosdgx_export ...`) inside its venv, creating the venv if needed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/venv.sh"
exec "$root/.venv/bin/python" -m videosdgx_export "$@"
