#!/usr/bin/env bash
# Sets up and starts AvatarCLIP Studio. With no display, runs the headless demo instead, which writes an
# avatar and its animation (GLB, BVH, PLY, GIF) to runs/demo. Extra arguments go to the app / demo.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/system-deps.sh"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec avatarclip-studio app "$@"
fi
echo "no display found: running the headless demo (the app needs a display)"
exec avatarclip-studio demo "$@"
