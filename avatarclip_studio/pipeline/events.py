"""Progress and snapshot events: how long work reports to a CLI progress bar or to the UI.

No Qt here: the UI wraps a :class:`Reporter` that re-emits events as Qt signals.
Every long loop calls ``reporter.check()`` between steps, which raises :class:`Cancelled` when the
user stopped the run and blocks while it is paused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Cancelled(Exception):
    """The run was stopped by the user; work done so far is checkpointed."""


@dataclass(frozen=True)
class Progress:
    stage: str
    """One of: shape, neus_init, sculpt, mesh, motion, export (or a training job name)."""
    step: int
    total: int
    losses: dict[str, float] = field(default_factory=dict)
    """Each named loss term of this step, and ``total``."""
    eta_seconds: float | None = None
    steps_per_second: float | None = None
    message: str = ""


@dataclass(frozen=True)
class MeshSnapshot:
    """A light mesh of the current state, for a live view."""

    stage: str
    step: int
    vertices: np.ndarray  # (V, 3) float32, metres, y up
    faces: np.ndarray  # (F, 3) int32
    colors: np.ndarray | None = None  # (V, 3) float32 in [0, 1]


@dataclass(frozen=True)
class ImageSnapshot:
    stage: str
    step: int
    image: np.ndarray  # (H, W, 3) uint8
    label: str = ""


Event = Progress | MeshSnapshot | ImageSnapshot


class Reporter:
    """Fan-out of events to listeners, plus cooperative pause and cancel."""

    def __init__(self, *listeners: Callable[[Any], None]) -> None:
        self._listeners = list(listeners)
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def add_listener(self, listener: Callable[[Any], None]) -> None:
        self._listeners.append(listener)

    def emit(self, event: Event) -> None:
        for listener in self._listeners:
            listener(event)

    def log(self, stage: str, message: str) -> None:
        self.emit(Progress(stage=stage, step=0, total=0, message=message))

    # control, called from any thread
    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def check(self) -> None:
        """Called by workers between steps: wait while paused, raise :class:`Cancelled` if stopped."""
        while not self._running.wait(timeout=0.1):
            if self._cancel.is_set():
                break
        if self._cancel.is_set():
            raise Cancelled()
