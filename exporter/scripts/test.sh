#!/usr/bin/env bash
# `npm test` for the exporter: make sure the venv is current, then run the pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
exec .venv/bin/python -m pytest -q tests "$@"
