#!/usr/bin/env bash
# Makes exporter/.venv from requirements.txt. Idempotent: the venv is rebuilt only when requirements.txt
# or the Python version changes (stamp file written last, so an interrupted build is redone).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
python="${VDGX_PYTHON:-python3}"

"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || { echo "exporter: needs Python >= 3.10 (set VDGX_PYTHON); $python is $("$python" --version 2>&1)" >&2; exit 1; }
want="$(sha256sum "$root/requirements.txt" | cut -d' ' -f1) python-$("$python" -c 'import platform; print(platform.python_version())')"

# One builder at a time (npm test and a Node test may both ask for the venv).
exec 9>"$root/.venv.lock"
flock 9
if [ -f "$venv/.stamp" ] && [ "$(cat "$venv/.stamp")" = "$want" ]; then exit 0; fi

echo "exporter: creating $venv from requirements.txt (about a minute with the local torch wheel)" >&2
start=$SECONDS
rm -rf "$venv"
"$python" -m venv "$venv"
# This machine's pip config names local index folders that do not all exist: drop those warnings.
pip() { "$venv/bin/python" -m pip install --no-input --quiet --disable-pip-version-check "$@" 2> >(grep -v 'is ignored: it is neither' >&2); }
# torch first, pinned, so no other package can pull a CUDA build in its place.
pip "$(grep -E '^torch==' "$root/requirements.txt")"
pip -r "$root/requirements.txt"
"$venv/bin/python" - <<'PY'
import sys, torch
if torch.version.cuda is not None:
    sys.exit(f"exporter: torch {torch.__version__} is a CUDA build; the pinned CPU wheel was expected")
PY
# The package itself, from the source tree (an editable install without a build backend).
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$root/src" > "$site/videosdgx_export.pth"
echo "$want" > "$venv/.stamp"
echo "exporter: venv ready in $((SECONDS - start)) s" >&2
