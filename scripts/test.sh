#!/usr/bin/env bash
# Sets up and runs every check: lint, types, and the test tiers, each tier in its own pytest process
# (a live EGL context in the same process breaks Qt's GL widget). Screenshots land in artifacts/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/system-deps.sh"
source "$ROOT/scripts/setup.sh" dev
cd "$ROOT"
export AVATARCLIP_OFFLINE=1 PYTHONHASHSEED=0 AVATARCLIP_CACHE_DIR="$ROOT/.cache/test-cache"
mkdir -p artifacts
if [ -f package.json ] && [ ! -d node_modules/gltf-validator ]; then npm install --silent --no-audit --no-fund >/dev/null; fi

echo "== ruff";  ruff check . && ruff format --check .
echo "== mypy";  mypy avatarclip_studio
status=0
tier() {  # tier NAME DIR [env...]
  local name=$1 dir=$2; shift 2
  compgen -G "$dir/test_*.py" >/dev/null || { echo "== $name: no tests"; return; }
  echo "== tests: $name"
  env "$@" python -m pytest "$dir" -q -p no:cacheprovider || status=1
}
tier core tests/core
tier widgets tests/ui QT_QPA_PLATFORM=offscreen
tier opengl tests/gl
tier viewport tests/viewport QT_QPA_PLATFORM=xcb QT_XCB_GL_INTEGRATION=xcb_egl
exit $status
