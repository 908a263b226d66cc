"""The viewport checks share the fake pipeline and the tiny rigged avatar of the widget tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "ui"))
