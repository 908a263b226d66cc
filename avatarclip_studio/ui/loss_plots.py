"""Live plots of the current stage: every loss term, the total, steps per second (pyqtgraph), and the
latest image the stage rendered for its guidance model."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from avatarclip_studio.pipeline.events import ImageSnapshot, Progress

PREVIEW_SIZE = 160

REDRAW_MS = 100
"""Curves are redrawn at most this often, however fast steps arrive."""


class LossPlots(QWidget):
    """Curves per loss term of the stage now running; a new stage starts new curves."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        self.losses = pg.PlotWidget(self, title="losses")
        # two columns on a dark, nearly opaque box: the names stay readable over the curves they name
        self.losses.addLegend(
            offset=(-10, 10), colCount=2, brush=pg.mkBrush(15, 15, 15, 215), pen=pg.mkPen(80, 80, 80)
        )
        self.losses.setLabel("bottom", "step")
        self.speed = pg.PlotWidget(self, title="steps / s")
        self.speed.setLabel("bottom", "step")
        self.speed.setMaximumHeight(140)
        self.preview = QLabel(self)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.losses, 3)
        layout.addWidget(self.speed, 1)
        layout.addWidget(self.preview)
        self.stage = ""
        self.series: dict[str, tuple[list[float], list[float]]] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._speed_curve = self.speed.plot(pen=pg.mkPen("#5bc0de", width=2))
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def add(self, event: Progress) -> None:
        """Record one step's losses and speed (events without numbers, e.g. log lines, are ignored)."""
        if not event.losses and event.steps_per_second is None:
            return
        if event.stage != self.stage:
            self.clear()
            self.stage = event.stage
            self.losses.setTitle(f"losses · {event.stage}")
        for name, value in event.losses.items():
            xs, ys = self.series.setdefault(name, ([], []))
            xs.append(float(event.step))
            ys.append(float(value))
        if event.steps_per_second is not None:
            xs, ys = self.series.setdefault("steps/s", ([], []))
            xs.append(float(event.step))
            ys.append(float(event.steps_per_second))
        self._dirty = True

    def show_image(self, event: ImageSnapshot) -> None:
        """Show ``event.image (H, W, 3) uint8`` scaled to :data:`PREVIEW_SIZE`, with its label."""
        image = np.ascontiguousarray(event.image, dtype=np.uint8)
        if image.ndim != 3 or image.shape[2] != 3:
            return
        h, w = image.shape[:2]
        qimage = QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # own the pixels
        pixmap = QPixmap.fromImage(qimage).scaled(
            PREVIEW_SIZE,
            PREVIEW_SIZE,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.preview.setPixmap(pixmap)
        self.preview.setToolTip(f"{event.stage} step {event.step}: {event.label}".rstrip(": "))
        self.preview.show()

    def clear(self) -> None:
        self.series.clear()
        for curve in self._curves.values():
            self.losses.removeItem(curve)
        self._curves.clear()
        self._speed_curve.setData([], [])
        self.preview.hide()
        self.stage = ""

    def refresh(self) -> None:
        """Push new points to the curves (called by the redraw timer)."""
        if not self._dirty:
            return
        self._dirty = False
        for name, (xs, ys) in self.series.items():
            if name == "steps/s":
                self._speed_curve.setData(xs, ys)
                continue
            curve = self._curves.get(name)
            if curve is None:
                colour = pg.intColor(len(self._curves), hues=9)
                width = 3 if name == "total" else 1.5
                curve = self.losses.plot(name=name, pen=pg.mkPen(colour, width=width))
                self._curves[name] = curve
            curve.setData(xs, ys)
