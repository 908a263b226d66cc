"""Faults during a run: cancel at random points, NaN in the optimiser, a full disk — nothing is lost.

One uninterrupted reference run (the ``tiny`` preset made deterministic: the template fit is bounded by
steps, not seconds) is compared with runs that were cancelled and resumed over and over. Models are
loaded once per module (the runner loads them lazily per run; re-reading them is not what is tested).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from avatarclip_studio.config import preset
from avatarclip_studio.pipeline import runner
from avatarclip_studio.pipeline.events import Cancelled, Progress, Reporter
from avatarclip_studio.pipeline.run_dir import RunDir, RunError
from avatarclip_studio.utils.atomic import OutputError

PROMPTS = {"shape": "a tall person", "appearance": "a person in a red shirt"}
CANCEL_POINTS = int(os.environ.get("FAULTS_CANCEL_POINTS", "100"))
_TINY = preset("tiny")
CONFIG = replace(
    _TINY,
    neus=replace(_TINY.neus, init_steps=2, init_seconds=1e9),
    sculpt=replace(_TINY.sculpt, steps=3, checkpoint_every=1, snapshot_every=1),
    mesh=replace(_TINY.mesh, resolution=32),
)
OUTPUTS = ("shape.npz", "avatar.npz")


@pytest.fixture(scope="module")
def cached_models() -> Iterator[None]:
    from avatarclip_studio.body import model as body_model
    from avatarclip_studio.guidance import select

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(select, "load_guidance", cache(select.load_guidance))
        mp.setattr(body_model, "load_body_model", cache(body_model.load_body_model))
        yield
    torch.set_num_threads(threads)


def run(folder: Path, *listeners) -> RunDir:
    return runner.run_pipeline(folder, CONFIG, PROMPTS, Reporter(*listeners))


@pytest.fixture(scope="module")
def reference(cached_models, tmp_path_factory) -> tuple[Path, list]:
    folder = tmp_path_factory.mktemp("faults") / "reference"
    events: list = []
    run(folder, events.append)
    return folder, events


def arrays(folder: Path, name: str) -> dict[str, np.ndarray]:
    with np.load(folder / name) as data:
        return {k: data[k] for k in data.files}


def assert_intact(folder: Path) -> RunDir:
    """No temporary files left, and a manifest that opens."""
    leftovers = [p.name for p in folder.rglob("*") if ".part" in p.name]
    assert not leftovers, leftovers
    return RunDir.open(folder)


def assert_same_outputs(folder: Path, reference: Path) -> None:
    for name in OUTPUTS:
        got, want = arrays(folder, name), arrays(reference, name)
        assert got.keys() == want.keys()
        for key in want:
            np.testing.assert_allclose(got[key], want[key], atol=1e-5, err_msg=f"{name}:{key}")


class CancelAfter:
    """A listener that cancels its reporter after ``count`` events."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.reporter: Reporter | None = None

    def __call__(self, event: object) -> None:
        self.count -= 1
        if self.count == 0 and self.reporter is not None:
            self.reporter.cancel()


def test_cancel_at_random_points_then_resume_gives_the_same_outputs(reference, tmp_path):
    ref_folder, ref_events = reference
    rng = np.random.default_rng(0)
    folder, cancels, attempts = tmp_path / "run", 0, 0
    while cancels < CANCEL_POINTS:
        attempts += 1
        assert attempts < 4 * CANCEL_POINTS, "cancelled runs stopped making progress"
        listener = CancelAfter(int(rng.integers(1, 4 + len(ref_events) * (cancels % 7 == 6))))
        reporter = Reporter(listener)
        listener.reporter = reporter
        try:
            runner.run_pipeline(folder, CONFIG, PROMPTS, reporter)
        except Cancelled:
            cancels += 1
            statuses = {s["status"] for s in assert_intact(folder).manifest.stages.values()}
            assert "running" not in statuses
            continue
        assert_same_outputs(folder, ref_folder)
        shutil.rmtree(folder)  # done: start again, cancelling at other points
    assert cancels >= CANCEL_POINTS
    run(folder)
    assert_same_outputs(folder, ref_folder)
    manifest = assert_intact(folder).manifest
    assert all(manifest.stages[s]["status"] == "done" for s in runner.AVATAR_STAGES)


def test_offline_guidance_is_announced_when_clip_weights_are_missing(reference):
    _, events = reference
    messages = [e.message for e in events if isinstance(e, Progress) and e.message]
    assert any("guidance model: offline" in m for m in messages), messages
    assert "offline" in RunDir.open(reference[0]).manifest.guidance


def _copy_before(reference: Path, folder: Path, stage: str) -> RunDir:
    """A copy of the reference run as it was before ``stage`` ran."""
    shutil.copytree(reference, folder)
    later = runner.AVATAR_STAGES[runner.AVATAR_STAGES.index(stage) :]
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in later:
        manifest["stages"].pop(name, None)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(folder / "checkpoints" / "sculpt", ignore_errors=True)
    return RunDir.open(folder)


def test_a_nan_loss_is_rolled_back_reported_and_the_run_finishes(reference, tmp_path, monkeypatch):
    from avatarclip_studio.neus.sculpt import Sculptor

    folder = tmp_path / "nan"
    _copy_before(reference[0], folder, "sculpt")
    real = Sculptor.loss_terms
    calls = {"n": 0}

    def poisoned(self, *args, **kwargs):
        total, terms = real(self, *args, **kwargs)
        calls["n"] += 1
        return (total * float("nan"), terms) if calls["n"] == 2 else (total, terms)

    monkeypatch.setattr(Sculptor, "loss_terms", poisoned)
    events: list = []
    run(folder, events.append)
    warnings = [e.message for e in events if isinstance(e, Progress) and "rolled back" in e.message]
    assert len(warnings) == 1 and "not finite" in warnings[0]
    avatar = arrays(folder, "avatar.npz")
    assert np.isfinite(avatar["vertices"]).all() and len(avatar["faces"]) > 0
    assert assert_intact(folder).stage_done("mesh")


def test_a_full_disk_gives_a_clear_error_and_keeps_previous_files(reference, tmp_path, monkeypatch):
    from avatarclip_studio.utils import atomic

    folder = tmp_path / "full"
    _copy_before(reference[0], folder, "mesh")
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != "manifest.json"}

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", no_space)
    with pytest.raises(OutputError, match="No space left on device") as info:
        run(folder)
    assert str(folder) in str(info.value)
    monkeypatch.undo()
    for name, content in before.items():
        assert (folder / name).read_bytes() == content, name
    manifest = assert_intact(folder).manifest
    assert manifest.stages["shape"]["status"] == "done"
    run(folder)  # space again: the run resumes and finishes
    assert_same_outputs(folder, reference[0])


def test_a_damaged_shape_output_is_named_and_redone_on_the_next_run(reference, tmp_path):
    folder = tmp_path / "damaged"
    _copy_before(reference[0], folder, "sculpt")
    (folder / "shape.npz").write_bytes(b"PK\x03\x04 not a zip any more")
    with pytest.raises(RunError, match=r"shape\.npz.*run the same command again"):
        run(folder)
    assert assert_intact(folder).manifest.stages["shape"]["status"] == "stale"
    run(folder)  # the shape stage is redone, then the rest
    assert_same_outputs(folder, reference[0])
