"""Sculpting loop: gradients flow, events, checkpoint + identical resume, NaN roll-back (tiny, CPU).

The guidance here has random weights: these tests check the machinery, never that a text is followed.
"""

from __future__ import annotations

import zlib
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from avatarclip_studio.config import preset
from avatarclip_studio.device import Compute
from avatarclip_studio.guidance.base import Guidance
from avatarclip_studio.neus.fields import NeusAvatarField
from avatarclip_studio.neus.sculpt import CheckpointError, Sculptor
from avatarclip_studio.pipeline.events import Cancelled, ImageSnapshot, MeshSnapshot, Progress, Reporter

CPU = Compute(torch.device("cpu"), None)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks: one thread avoids OpenMP barrier stalls when the CI machine is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = preset("tiny")
NEUS = replace(TINY.neus, samples_per_ray=48, occupancy_resolution=16, sphere_radius=0.3)
PROMPTS = {"shape": "a tall person", "appearance": "a knight in armour", "motion": "waving"}


class RandomGuidance(Guidance):
    """A random conv image tower and hashed text vectors, 16-d: differentiable, deterministic."""

    name = "random test guidance"
    input_size = 32

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(123)
        self.tower = nn.Sequential(
            nn.Conv2d(3, 8, 4, stride=4), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 16)
        )
        self.calls = 0
        self.poison_call: int | None = None

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def _encode_texts(self, texts: list[str]) -> torch.Tensor:
        gens = [torch.Generator().manual_seed(zlib.crc32(t.encode())) for t in texts]
        return torch.stack([torch.randn(16, generator=g) for g in gens])

    def _encode_pixels(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        features = self.tower(images)
        if self.calls == self.poison_call:
            features = features * float("nan")
        return features


def sphere_person() -> tuple[np.ndarray, np.ndarray, np.ndarray, NeusAvatarField]:
    """A sphere template of radius 0.3 (the field's geometric init), its head point and the field."""
    import trimesh

    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.3)
    torch.manual_seed(0)
    field = NeusAvatarField(NEUS)
    with torch.no_grad():
        field.variance.fill_(NEUS.fitted_inv_deviation)
    return mesh.vertices, mesh.faces, np.array([0.0, 0.25, 0.0]), field


def make_sculptor(tmp_path, field, guidance, reporter, steps=4, **overrides):
    vertices, faces, head, _ = sphere_person()
    config = replace(
        TINY.sculpt, steps=steps, snapshot_every=2, render_size=32, snapshot_mesh_resolution=24, **overrides
    )
    return Sculptor(
        field,
        guidance,
        (vertices, faces),
        head,
        PROMPTS,
        config,
        CPU,
        reporter,
        checkpoint_dir=tmp_path / "ck",
    )


def test_sculpt_runs_emits_events_and_changes_the_field(tmp_path):
    *_, field = sphere_person()
    before = [p.detach().clone() for p in field.parameters()]
    seen: list = []
    sculptor = make_sculptor(tmp_path, field, RandomGuidance(), Reporter(seen.append))
    result = sculptor.run()
    progress = [e for e in seen if isinstance(e, Progress) and e.losses]
    assert [e.step for e in progress] == [1, 2, 3, 4]
    for event in progress:
        assert set(event.losses) == {"rec", "eikonal", "mask", "clip_textured", "clip_grey", "total"}
        assert all(np.isfinite(v) for v in event.losses.values())
        assert event.steps_per_second and event.steps_per_second > 0
    # the clip terms are scored on real renders and move every head: texture, SDF and s all change
    changed = [not torch.equal(a, b) for a, b in zip(before, result.parameters(), strict=True)]
    assert all(changed)
    images = [e for e in seen if isinstance(e, ImageSnapshot)]
    meshes = [e for e in seen if isinstance(e, MeshSnapshot)]
    assert [e.step for e in images] == [2, 4] and images[0].image.shape == (32, 32, 3)
    assert images[0].image.std() > 0  # not blank
    assert meshes and len(meshes[-1].faces) > 50
    assert (tmp_path / "ck" / "sculpt.pt").exists()


def test_resume_gives_the_same_result_as_an_uninterrupted_run(tmp_path):
    *_, field = sphere_person()
    full = make_sculptor(tmp_path / "a", field, RandomGuidance(), Reporter(), steps=4).run()

    *_, field = sphere_person()
    make_sculptor(tmp_path / "b", field, RandomGuidance(), Reporter(), steps=2).run()  # checkpoint at step 2
    *_, field = sphere_person()
    seen: list = []
    resumed = make_sculptor(tmp_path / "b", field, RandomGuidance(), Reporter(seen.append), steps=4).run()
    assert any("resumed at step 2" in e.message for e in seen if isinstance(e, Progress))
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_nan_rolls_back_and_halves_the_learning_rate(tmp_path):
    *_, field = sphere_person()
    guidance = RandomGuidance()
    guidance.poison_call = 5  # two images per step: the third step's first image
    seen: list = []
    sculptor = make_sculptor(tmp_path, field, guidance, Reporter(seen.append), steps=4)
    result = sculptor.run()
    warnings = [e.message for e in seen if isinstance(e, Progress) and "warning" in e.message]
    assert len(warnings) == 1 and "rolled back" in warnings[0]
    assert sculptor.lr == pytest.approx(TINY.sculpt.lr / 2)
    assert all(bool(torch.isfinite(p).all()) for p in result.parameters())
    assert sculptor.step == 4


def test_cancel_checkpoints_the_current_step(tmp_path):
    *_, field = sphere_person()
    reporter = Reporter()
    reporter.add_listener(lambda e: reporter.cancel() if isinstance(e, Progress) and e.step == 1 else None)
    sculptor = make_sculptor(tmp_path, field, RandomGuidance(), reporter, steps=4)
    with pytest.raises(Cancelled):
        sculptor.run()
    state = torch.load(tmp_path / "ck" / "sculpt.pt", weights_only=True)
    assert state["step"] == 1


def test_bad_inputs_are_refused(tmp_path):
    vertices, faces, head, field = sphere_person()
    config = TINY.sculpt
    with pytest.raises(ValueError, match="appearance"):
        Sculptor(field, RandomGuidance(), (vertices, faces), head, {"shape": "x"}, config, CPU, Reporter())
    with pytest.raises(ValueError, match="head_position"):
        Sculptor(field, RandomGuidance(), (vertices, faces), np.zeros(2), PROMPTS, config, CPU, Reporter())
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "sculpt.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="sculpt.pt"):
        make_sculptor(tmp_path, field, RandomGuidance(), Reporter()).run()


def test_out_of_memory_lowers_the_ray_budget_warns_and_finishes(tmp_path, monkeypatch):
    *_, field = sphere_person()
    seen: list = []
    sculptor = make_sculptor(tmp_path, field, RandomGuidance(), Reporter(seen.append), steps=3, max_rays=4096)
    real, failures = Sculptor.render_view, {"left": 2}

    def short_of_memory(self, *args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Sculptor, "render_view", short_of_memory)
    sculptor.run()
    warnings = [e.message for e in seen if isinstance(e, Progress) and "out of memory" in e.message]
    assert len(warnings) == 2 and "1024" in warnings[-1]
    assert sculptor.max_rays == 1024 and sculptor.step == 3


def test_out_of_memory_at_the_smallest_budget_is_a_clear_error(tmp_path, monkeypatch):
    *_, field = sphere_person()
    sculptor = make_sculptor(tmp_path, field, RandomGuidance(), Reporter(), steps=3, max_rays=600)

    def no_memory(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(Sculptor, "render_view", no_memory)
    with pytest.raises(MemoryError, match="smaller preset"):
        sculptor.run()
