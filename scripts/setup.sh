#!/usr/bin/env bash
# Sets up (or updates) the project's virtual environment in .venv. Sourced by run.sh and test.sh.
# Idempotent: a second run only re-checks what is installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${AVATARCLIP_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
EXTRAS="${1:-}"

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "AvatarCLIP Studio needs Python 3.10 or newer ($PY is $("$PY" --version 2>&1))." >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating the virtual environment in $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)${EXTRAS:+-$EXTRAS}"
if [ ! -f "$stamp" ]; then
  echo "installing AvatarCLIP Studio and its dependencies (torch is large: a few minutes the first time)"
  "$VENV/bin/python" -m pip install --quiet --upgrade "pip>=24" 2>&1 | grep -v "is ignored" || true
  # torch and torchvision must be built for each other (CLIP imports torchvision): install them as a pair first.
  "$VENV/bin/python" -m pip install --quiet "torch>=2.4,<2.15" "torchvision>=0.19,<0.30" 2>&1 | grep -v "is ignored" || true
  "$VENV/bin/python" -m pip install --quiet -e "$ROOT${EXTRAS:+[$EXTRAS]}" 2>&1 | grep -v "is ignored" || true
  "$VENV/bin/python" -c "import torch, torchvision, clip, smplx, moderngl, PySide6" \
    || { echo "the install is incomplete: see the pip messages above" >&2; exit 1; }
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
