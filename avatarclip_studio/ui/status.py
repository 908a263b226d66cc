"""The status bar (stage, step, ETA) and the log pane fed by the worker's progress events."""

from __future__ import annotations

import time

from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QStatusBar, QWidget

from avatarclip_studio.pipeline.events import Progress

MAX_LOG_LINES = 5000


def format_eta(seconds: float | None) -> str:
    """``1h 02m``, ``3m 05s``, ``42s``; ``–`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s}s"


class StatusPanel(QStatusBar):
    """Permanent fields: stage · step/total · ETA; temporary messages on the left."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stage = QLabel("idle", self)
        self.stage.setObjectName("status_stage")
        self.step = QLabel("", self)
        self.step.setObjectName("status_step")
        self.eta = QLabel("", self)
        self.eta.setObjectName("status_eta")
        self.draw = QLabel("", self)
        self.draw.setToolTip("mean time to draw the 3D view")
        for label in (self.stage, self.step, self.eta, self.draw):
            self.addPermanentWidget(label)

    def update_progress(self, event: Progress) -> None:
        self.stage.setText(f"stage: {event.stage}")
        if event.total > 0:
            self.step.setText(f"step {event.step}/{event.total}")
            rate = f" · {event.steps_per_second:.2f} steps/s" if event.steps_per_second else ""
            self.eta.setText(f"ETA {format_eta(event.eta_seconds)}{rate}")

    def set_draw_time(self, ms: float | None) -> None:
        self.draw.setText("" if ms is None else f"draw {ms:.1f} ms")

    def set_state(self, text: str) -> None:
        self.stage.setText(text)
        self.step.clear()
        self.eta.clear()


class LogView(QPlainTextEdit):
    """Time-stamped lines: stage messages, errors, what was opened or written."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LOG_LINES)

    def add(self, text: str) -> None:
        self.appendPlainText(f"{time.strftime('%H:%M:%S')}  {text}")
        self.moveCursor(QTextCursor.MoveOperation.End)

    def add_progress(self, event: Progress) -> None:
        if event.message:
            self.add(f"[{event.stage}] {event.message}")
