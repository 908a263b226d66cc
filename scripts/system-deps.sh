#!/usr/bin/env bash
# Debian/Ubuntu libraries that Qt's X11 platform, Xvfb and Mesa's OpenGL need. Skipped when present.
set -euo pipefail
PKGS="xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xkb1 libxcb-shape0
libxcb-randr0 libxcb-xinerama0 libxcb-cursor0 libxkbcommon-x11-0 libegl1 libegl-mesa0 libgl1-mesa-dri libgl1
libfontconfig1 libdbus-1-3"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
# node + npm run the Khronos glTF validator in the tests; keep an existing Node.js (its npm may not be Debian's)
command -v npm >/dev/null || missing="$missing nodejs npm"
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "please install the equivalents of:$missing" >&2; exit 0
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing system packages:$missing"
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
