"""The worker thread: events become queued signals, thinned and coalesced; pause, stop and errors."""

from __future__ import annotations

import threading

import numpy as np
from fake_pipeline import snapshot_mesh

from avatarclip_studio.pipeline.events import Progress
from avatarclip_studio.ui.worker import PipelineWorker


def test_progress_is_thinned_but_messages_and_last_step_arrive(qtbot):
    def job(reporter):
        for step in range(1, 2001):
            reporter.emit(Progress("sculpt", step, 2000, {"total": 1.0 / step}))
        reporter.log("sculpt", "done")
        return "ok"

    worker = PipelineWorker(job)
    got: list[Progress] = []
    worker.progress.connect(got.append)
    with qtbot.waitSignal(worker.finished, timeout=10000), qtbot.waitSignal(worker.succeeded) as result:
        worker.start()
    qtbot.waitUntil(lambda: bool(got) and got[-1].message == "done", timeout=5000)
    assert result.args == ["ok"]
    assert len(got) < 200  # 2000 steps emitted in far less than 6 s of 30 Hz
    assert any(e.step == 2000 for e in got)


def test_snapshots_are_coalesced_to_the_newest(qtbot):
    emitted = threading.Event()

    def job(reporter):
        for step in range(1, 51):
            reporter.emit(snapshot_mesh(step))
        emitted.set()

    worker = PipelineWorker(job)
    signals: list[int] = []
    worker.mesh_ready.connect(lambda: signals.append(1))
    with qtbot.waitSignal(worker.finished, timeout=10000):
        worker.start()
    qtbot.wait(50)
    assert emitted.is_set()
    assert len(signals) == 1  # nobody took the first, so the others replaced it silently
    newest = worker.take_mesh()
    assert newest is not None and newest.step == 50
    assert np.linalg.norm(newest.vertices, axis=1).max() > 2.0
    assert worker.take_mesh() is None


def test_stop_while_paused_ends_the_job_as_cancelled(qtbot):
    steps: list[int] = []

    def job(reporter):
        for step in range(10**6):
            reporter.check()
            steps.append(step)
            if step == 3:
                reporter.pause()

    worker = PipelineWorker(job)
    with qtbot.waitSignal(worker.cancelled, timeout=10000):
        worker.start()
        qtbot.waitUntil(lambda: worker.paused, timeout=5000)
        qtbot.wait(200)
        assert len(steps) == 4  # stayed paused
        worker.stop()
    assert worker.wait(5000)


def test_an_exception_becomes_a_failed_signal_with_details(qtbot):
    def job(reporter):
        raise ValueError("shape.npz: no betas")

    worker = PipelineWorker(job)
    with qtbot.waitSignal(worker.failed, timeout=10000) as failed:
        worker.start()
    assert failed.args == ["ValueError: shape.npz: no betas"]
    worker.wait(5000)
    assert "Traceback" in worker.error_details
