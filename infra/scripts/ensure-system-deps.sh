#!/usr/bin/env bash
# Installs the Debian packages the platform runs on (ffmpeg always; redis-server unless REDIS_URL points
# at an existing Redis; chromium for the studio's browser tests when VDGX_NEED_CHROMIUM=1, as npm test
# sets). As root it installs them; otherwise it says exactly what to run and stops.
set -euo pipefail

missing=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
if [ -z "${REDIS_URL:-}" ] || [ "${VDGX_NEED_REDIS_SERVER:-}" = "1" ]; then
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
fi

if [ "${VDGX_NEED_CHROMIUM:-}" = "1" ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "VideosDGX needs these Debian packages: ${missing[*]}" >&2
  echo "Install them as root, then run this command again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "installing ${missing[*]} (apt-get)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
  apt-get update >/dev/null
  apt-get install -y --no-install-recommends "${missing[@]}"
}
