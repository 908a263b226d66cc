"""Jobs in a child process: events relayed, result returned, pause/stop mirrored, errors reported."""

from __future__ import annotations

import threading
import time

import child_targets
import pytest

from avatarclip_studio.pipeline.events import Cancelled, Progress, Reporter
from avatarclip_studio.ui.child import ChildFailed, run_in_child


def test_events_and_result_come_back():
    got: list[Progress] = []
    assert run_in_child(child_targets.count, (5,), Reporter(got.append)) == 50
    assert [e.step for e in got] == [1, 2, 3, 4, 5]
    assert got[-1].losses == {"total": 5.0}


def test_pause_holds_the_child_and_stop_ends_it(tmp_path):
    marker = tmp_path / "steps"
    reporter = Reporter()
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            run_in_child(child_targets.forever, (str(marker),), reporter)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while (not marker.exists() or marker.stat().st_size < 3) and time.monotonic() < deadline:
        time.sleep(0.05)
    reporter.pause()
    time.sleep(0.5)
    held = marker.stat().st_size
    time.sleep(0.5)
    assert marker.stat().st_size <= held + 1  # at most the step under way when paused
    reporter.resume()
    while marker.stat().st_size < held + 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.stat().st_size >= held + 5
    reporter.cancel()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)


def test_an_error_in_the_child_is_summarised_and_its_traceback_logged():
    got: list[Progress] = []
    with pytest.raises(ChildFailed, match=r"^ValueError: shape.npz: no betas$"):
        run_in_child(child_targets.broken, (), Reporter(got.append))
    assert "Traceback" in got[-1].message and got[-1].stage == "error"
