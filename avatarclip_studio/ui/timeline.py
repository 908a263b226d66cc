"""The timeline dock: play/pause, scrub slider, frame step, loop, speed and frame counter.

A view of :class:`~avatarclip_studio.ui.playback.PlaybackModel`; the clock ticking it lives here
(a QTimer measuring real elapsed time, so playback speed does not depend on the redraw rate).
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from avatarclip_studio.ui.playback import PlaybackModel

SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0)
TICK_MS = 15


class Timeline(QWidget):
    """Emits ``frame_changed(frame)`` after the model moved to another frame."""

    frame_changed = Signal(int)

    def __init__(self, model: PlaybackModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.play = QPushButton("Play", self)
        self.play.setCheckable(True)
        self.back = QPushButton("◀", self)
        self.forward = QPushButton("▶", self)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.loop = QCheckBox("Loop", self)
        self.loop.setChecked(model.loop)
        self.speed = QComboBox(self)
        self.speed.addItems([f"{s:g}×" for s in SPEEDS])
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.counter = QLabel(self)
        self.counter.setObjectName("frame_counter")
        self.counter.setMinimumWidth(110)

        layout = QHBoxLayout(self)
        widgets: list[QWidget] = [self.play, self.back, self.forward, self.slider, self.counter, self.loop]
        for widget in [*widgets, QLabel("Speed", self), self.speed]:
            layout.addWidget(widget, 1 if widget is self.slider else 0)

        self.play.toggled.connect(self._on_play)
        self.back.clicked.connect(lambda: self.model.step(-1))
        self.forward.clicked.connect(lambda: self.model.step(1))
        self.slider.valueChanged.connect(self.model.set_frame)
        self.loop.toggled.connect(self._on_loop)
        self.speed.currentIndexChanged.connect(lambda i: setattr(self.model, "speed", SPEEDS[i]))
        model.add_listener(self._on_frame)

        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._last = time.perf_counter()
        self.sync()

    def sync(self) -> None:
        """Refresh every control from the model (after new content was loaded)."""
        frames = self.model.num_frames
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(frames - 1, 0))
        self.slider.setValue(self.model.frame)
        self.slider.blockSignals(False)
        for widget in (self.play, self.back, self.forward, self.slider):
            widget.setEnabled(frames > 1)
        self.play.blockSignals(True)
        self.play.setChecked(self.model.playing)
        self.play.setText("Pause" if self.model.playing else "Play")
        self.play.blockSignals(False)
        if self.model.playing and not self._timer.isActive():
            self._last = time.perf_counter()
            self._timer.start()
        elif not self.model.playing:
            self._timer.stop()
        self._update_counter()

    def toggle_play(self) -> None:
        self.model.toggle()
        self.sync()

    def _on_play(self, checked: bool) -> None:
        if checked != self.model.playing:
            self.model.toggle()
        self.sync()

    def _on_loop(self, checked: bool) -> None:
        self.model.loop = checked

    def _tick(self) -> None:
        now = time.perf_counter()
        self.model.tick(now - self._last)
        self._last = now
        if not self.model.playing:
            self.sync()

    def _on_frame(self, frame: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(frame)
        self.slider.blockSignals(False)
        self._update_counter()
        self.frame_changed.emit(frame)

    def _update_counter(self) -> None:
        frames = self.model.num_frames
        if frames == 0:
            self.counter.setText("no motion")
        else:
            self.counter.setText(f"{self.model.frame + 1} / {frames}  ({self.model.fps:g} fps)")
