"""Start the studio: ``run_app(argv, run_dir)`` (``avatarclip-studio app`` and ``main.py`` call it)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication


def prepare_platform() -> None:
    """Before the QApplication: OpenGL through EGL on X11 (what Mesa's llvmpipe serves without a GPU)."""
    if sys.platform.startswith("linux") and os.environ.get("QT_QPA_PLATFORM", "xcb") == "xcb":
        os.environ.setdefault("QT_XCB_GL_INTEGRATION", "xcb_egl")


def run_app(argv: list[str], run_dir: str | Path | None = None) -> int:
    """Show the main window (with ``run_dir`` opened, if given) and run the event loop; the exit code.

    Long jobs run in spawned child processes, which import the caller's main module again: call this
    under ``if __name__ == "__main__":`` (as ``main.py`` and the console script do).
    """
    from avatarclip_studio.ui.main_window import MainWindow

    prepare_platform()
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("AvatarCLIP Studio")
    app.setOrganizationName("AvatarCLIP")
    window = MainWindow(runs_root=Path.cwd() / "runs")
    window.show()
    if run_dir is not None:
        window.open_run(run_dir)
    return int(app.exec())
