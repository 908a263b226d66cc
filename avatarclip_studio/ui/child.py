"""Run a pipeline function in a child process, relaying its events to a :class:`Reporter` here. No Qt.

Why a process: the pipeline renders offscreen through its own EGL context (shape code-books, guidance
views, videos), and an EGL context living in the app's process crashes Qt's GL window. A process also
keeps the optimisation's Python work from competing with the interface for the GIL.

Pause, resume and stop are mirrored into the child through multiprocessing events, so its
``reporter.check()`` behaves exactly as in the CLI. Events are thinned in the child before they are
pickled (progress ≤ 30 a second, mesh snapshots ≤ 5), so a fast stage never floods the pipe.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
import traceback
from collections.abc import Callable
from typing import Any

from avatarclip_studio.pipeline.events import Cancelled, ImageSnapshot, MeshSnapshot, Progress, Reporter

MAX_PROGRESS_HZ = 30.0
MAX_SNAPSHOT_HZ = 5.0
STOP_GRACE_SECONDS = 5.0
"""After Stop, how long the child may take to reach its next ``reporter.check()`` before it is ended."""

Target = Callable[..., Any]
"""A module-level function ``target(*args, reporter)`` (it is pickled by name for the child)."""


class ChildFailed(RuntimeError):
    """The function raised in the child (the message is its one-line summary), or the child died."""


class _ChildReporter(Reporter):
    """A reporter whose pause/cancel state lives in multiprocessing events shared with the parent."""

    def __init__(self, events: Any, cancel: Any, running: Any) -> None:
        super().__init__(self._send)
        # same interface as the threading events Reporter.check() waits on, but shared between processes
        self._cancel, self._running = cancel, running
        self._events = events
        self._last: dict[type, float] = {}

    def _send(self, event: Any) -> None:
        now = time.monotonic()
        kind = type(event)
        since = now - self._last.get(kind, 0.0)
        if isinstance(event, Progress):
            final = event.total > 0 and event.step >= event.total
            if not (event.message or final) and since < 1.0 / MAX_PROGRESS_HZ:
                return
        elif isinstance(event, MeshSnapshot | ImageSnapshot) and since < 1.0 / MAX_SNAPSHOT_HZ:
            return
        self._last[kind] = now
        self._events.put(("event", event))


def _child_main(target: Target, args: tuple[Any, ...], events: Any, cancel: Any, running: Any) -> None:
    reporter = _ChildReporter(events, cancel, running)
    try:
        result = target(*args, reporter)
    except Cancelled:
        events.put(("cancelled", None))
    except Exception as exc:
        events.put(("error", (f"{type(exc).__name__}: {exc}", traceback.format_exc())))
    else:
        events.put(("result", result))


def run_in_child(target: Target, args: tuple[Any, ...], reporter: Reporter) -> Any:
    """``target(*args, child_reporter)`` in a fresh (spawned) process; its events go to ``reporter``.

    Returns what ``target`` returned; raises :class:`Cancelled` when ``reporter`` was stopped and
    :class:`ChildFailed` when ``target`` raised (its traceback is logged through ``reporter``).
    """
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    cancel, running = context.Event(), context.Event()
    running.set()
    process = context.Process(target=_child_main, args=(target, args, events, cancel, running), daemon=True)
    process.start()
    stop_asked: float | None = None
    try:
        while True:
            if reporter.cancelled:
                cancel.set()
                running.set()
                stop_asked = stop_asked or time.monotonic()
                if time.monotonic() - stop_asked > STOP_GRACE_SECONDS:
                    process.terminate()
                    raise Cancelled()
            elif reporter.paused:
                running.clear()
            else:
                running.set()
            try:
                kind, payload = events.get(timeout=0.1)
            except queue.Empty:
                if not process.is_alive():
                    died = f"the pipeline process ended unexpectedly (exit code {process.exitcode})"
                    raise ChildFailed(died) from None
                continue
            if kind == "event":
                reporter.emit(payload)
            elif kind == "result":
                return payload
            elif kind == "cancelled":
                raise Cancelled()
            else:
                summary, details = payload
                reporter.log("error", details.rstrip())
                raise ChildFailed(summary)
    finally:
        process.join(timeout=STOP_GRACE_SECONDS)
        if process.is_alive():
            process.terminate()
        events.close()
