"""The real GL viewport, in a child pytest process on its own X server.

Qt's GL window and an EGL context made elsewhere in the same process (the renderer's and exporter's
tests in tests/gl) do not mix, so the checks in ``viewport_checks.py`` always run in a fresh process,
whichever way pytest was started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SCREEN = "-screen 0 1920x1200x24"


def test_viewport_checks_pass_under_xvfb():
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:xvfb", "-p", "no:cacheprovider"]
    command.append(str(HERE / "viewport_checks.py"))
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "QT_XCB_GL_INTEGRATION": "xcb_egl"}
    if shutil.which("xvfb-run"):
        command = ["xvfb-run", "-a", "-s", SCREEN, *command]
    elif not os.environ.get("DISPLAY"):
        pytest.skip("needs an X server: install xvfb (Debian: apt-get install xvfb)")
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, cwd=HERE.parents[1]
    )
    report = result.stdout[-6000:] + result.stderr[-3000:]
    assert result.returncode == 0, report
    assert " passed" in result.stdout, report
