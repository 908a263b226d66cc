"""Sculpting loop: gradients flow, events, checkpoint + identical resume, NaN roll-back (tiny, CPU).

The guidance here has random weights: these tests check the machinery, never that a text is followed.
"""

from __future__ import annotations

import copy
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
from avatarclip_studio.neus.preview import coarse_mesh
from avatarclip_studio.neus.sculpt import CheckpointError, Sculptor
from avatarclip_studio.neus.template_raycast import TemplateRaycaster, embree_available
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


def make_sculptor(tmp_path, field, guidance, reporter, steps=4, template=None, **overrides):
    vertices, faces, head, _ = sphere_person()
    if template is not None:
        vertices, faces = template
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
    guidance.poison_call = 3  # both images of a step in one call: the third step
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


def _sphere_view(sculptor: Sculptor):
    """A fixed body view of the sphere person, with its light and background."""
    from avatarclip_studio.neus.views import sample_background, sample_light, sample_view

    generator = torch.Generator().manual_seed(7)
    view = sample_view(1, sculptor.config, sculptor.head, generator)
    light, ambient = sample_light(view.camera, sculptor.config, generator)
    return view, light, ambient, sample_background(sculptor.config.render_size, generator)


@pytest.mark.skipif(not embree_available(), reason="Embree (embreex) has no wheel for this machine")
def test_template_raycast_matches_an_analytic_sphere():
    vertices, faces, *_ = sphere_person()
    rng = np.random.default_rng(0)
    origins = torch.tensor([[0.0, 0.0, 1.5]]).expand(2000, 3)
    dirs = torch.tensor(rng.normal(0, 0.25, (2000, 3)), dtype=torch.float32)
    dirs[:, 2] = -1.0
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    hit, normal = TemplateRaycaster(vertices, faces).cast(origins, dirs)
    # analytic ray–sphere (radius 0.3 at the origin): |o + t d|² = r²
    b = (origins * dirs).sum(-1)
    disc = b**2 - (origins**2).sum(-1) + 0.3**2
    clear = (disc - 0.002).abs() > 0.004  # away from the tessellated rim
    assert 0.2 < float((disc > 0).float().mean()) < 0.8
    assert torch.equal(hit[clear].bool(), (disc > 0)[clear])
    t = -b - disc.clamp_min(0).sqrt()
    truth = origins + t[:, None] * dirs
    truth = truth / truth.norm(dim=-1, keepdim=True)
    inside = hit.bool() & clear
    assert float((normal[inside] * truth[inside]).sum(-1).min()) > 0.995  # smooth, outward normals
    assert float(normal[~hit.bool()].abs().max()) == 0.0


@pytest.mark.skipif(not embree_available(), reason="Embree (embreex) has no wheel for this machine")
def test_mesh_and_field_template_references_see_the_same_silhouette(tmp_path):
    """The ray-cast template and the frozen-field NeuS render of the same body cover the same rays."""
    *_, field = sphere_person()
    surface = coarse_mesh(field, 96)  # the template the field holds (its init is only roughly r = 0.3)
    assert surface is not None
    template = surface[:2]
    mesh_ref = make_sculptor(tmp_path / "a", field, RandomGuidance(), Reporter(), template=template)
    field_ref = make_sculptor(
        tmp_path / "b",
        copy.deepcopy(field),
        RandomGuidance(),
        Reporter(),
        template=template,
        template_reference="field",
    )
    assert mesh_ref.raycaster is not None and mesh_ref.reference is None
    assert field_ref.raycaster is None and field_ref.reference is not None
    view, light, ambient, background = _sphere_view(mesh_ref)
    a = mesh_ref.render_view(view, light, ambient, background)
    b = field_ref.render_view(view, light, ambient, background)
    assert 0.1 < float(a.template_opacity.mean()) < 0.9
    agree = ((a.template_opacity > 0.5) == (b.template_opacity > 0.5)).float().mean()
    assert float(agree) > 0.97
    # the mesh reference is the grey template: albedo template_grey, shaded, over the background
    grey = NEUS.template_grey
    covered = a.template_opacity > 0.5
    assert float(a.template_rec[covered].max()) <= grey + 1e-5
    assert float(a.template_rec[covered].min()) >= 0.0


def test_without_embree_the_frozen_field_renders_the_template(tmp_path, monkeypatch):
    import avatarclip_studio.neus.sculpt as sculpt_module

    monkeypatch.setattr(sculpt_module, "embree_available", lambda: False)
    *_, field = sphere_person()
    seen: list = []
    sculptor = make_sculptor(tmp_path, field, RandomGuidance(), Reporter(seen.append), steps=2)
    assert sculptor.raycaster is None and sculptor.reference is not None
    assert any("Embree is not installed" in e.message for e in seen if isinstance(e, Progress))
    sculptor.run()
    assert sculptor.step == 2
