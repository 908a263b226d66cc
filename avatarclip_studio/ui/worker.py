"""The pipeline on a worker thread, reporting to the GUI through queued Qt signals.

Progress events are thinned to what a person can read (≤ ``MAX_PROGRESS_HZ`` a second, plus every
message and every stage's last step); mesh snapshots are coalesced: while the GUI has not taken the
previous one, a newer snapshot replaces it, so a fast stage never floods the event queue.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any

from PySide6.QtCore import QThread, Signal

from avatarclip_studio.pipeline.events import Cancelled, ImageSnapshot, MeshSnapshot, Progress, Reporter
from avatarclip_studio.ui.jobs import Job

MAX_PROGRESS_HZ = 30.0


class PipelineWorker(QThread):
    """Runs ``job(reporter)`` once, sending its result with ``succeeded``; control it with :meth:`pause`,
    :meth:`resume`, :meth:`stop`."""

    progress = Signal(object)  # Progress
    mesh_ready = Signal()  # call take_mesh() for the newest MeshSnapshot
    image = Signal(object)  # ImageSnapshot
    succeeded = Signal(object)  # the job's result
    failed = Signal(str)  # one line for the status bar, the traceback goes to the log
    cancelled = Signal()

    def __init__(self, job: Job, parent: Any = None) -> None:
        super().__init__(parent)
        self._job = job
        self.reporter = Reporter(self._on_event)
        self.error_details = ""
        self._lock = threading.Lock()
        self._pending_mesh: MeshSnapshot | None = None
        self._last_progress = 0.0

    # control, from the GUI thread
    def pause(self) -> None:
        self.reporter.pause()

    def resume(self) -> None:
        self.reporter.resume()

    def stop(self) -> None:
        self.reporter.cancel()

    @property
    def paused(self) -> bool:
        return self.reporter.paused

    def take_mesh(self) -> MeshSnapshot | None:
        """The newest snapshot not yet taken (None if it was already taken)."""
        with self._lock:
            snapshot, self._pending_mesh = self._pending_mesh, None
        return snapshot

    # worker thread
    def run(self) -> None:
        try:
            result = self._job(self.reporter)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:
            self.error_details = traceback.format_exc()
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.succeeded.emit(result)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, Progress):
            now = time.monotonic()
            final = event.total > 0 and event.step >= event.total
            if event.message or final or now - self._last_progress >= 1.0 / MAX_PROGRESS_HZ:
                self._last_progress = now
                self.progress.emit(event)
        elif isinstance(event, MeshSnapshot):
            with self._lock:
                waiting = self._pending_mesh is not None
                self._pending_mesh = event
            if not waiting:
                self.mesh_ready.emit()
        elif isinstance(event, ImageSnapshot):
            self.image.emit(event)
