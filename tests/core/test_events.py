import threading
import time

import pytest

from avatarclip_studio.pipeline.events import Cancelled, Progress, Reporter


def test_listeners_receive_events():
    seen = []
    reporter = Reporter(seen.append)
    reporter.emit(Progress(stage="sculpt", step=1, total=2, losses={"total": 0.5}))
    reporter.log("shape", "hello")
    assert [e.stage for e in seen] == ["sculpt", "shape"] and seen[1].message == "hello"


def test_pause_blocks_and_cancel_raises_from_another_thread():
    reporter = Reporter()
    steps = []

    def work():
        try:
            for i in range(10_000):
                reporter.check()
                steps.append(i)
                time.sleep(0.001)
        except Cancelled:
            steps.append("cancelled")

    reporter.pause()
    thread = threading.Thread(target=work)
    thread.start()
    time.sleep(0.3)
    assert steps == []  # paused before the first step
    reporter.resume()
    time.sleep(0.1)
    assert len(steps) > 0
    reporter.cancel()
    thread.join(timeout=2)
    assert not thread.is_alive() and steps[-1] == "cancelled"


def test_cancel_while_paused_unblocks():
    reporter = Reporter()
    reporter.pause()
    reporter.cancel()
    with pytest.raises(Cancelled):
        reporter.check()
