"""Widget tests run on Qt's offscreen platform (no display, no OpenGL: the 3D view stays empty)."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import pytest
from fake_pipeline import FakePipeline
from PySide6.QtCore import QSettings


@pytest.fixture
def fake() -> FakePipeline:
    return FakePipeline()


@pytest.fixture
def window(qtbot, tmp_path, fake):
    from avatarclip_studio.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(runs_root=tmp_path / "runs", settings=settings, job_factory=fake)
    qtbot.addWidget(win)
    win.show()
    yield win
    if win.worker is not None:
        win.worker.stop()
        win.worker.wait(5000)
