"""Mesh extraction: coarse-to-fine marching cubes is exact, watertight, outward, floater-free, coloured."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh
from skimage.measure import marching_cubes

from avatarclip_studio.avatar.config import MeshConfig
from avatarclip_studio.avatar.extract import MeshExtractionError, extract_mesh, sdf_grid
from avatarclip_studio.pipeline.events import Cancelled, MeshSnapshot, Progress, Reporter

BODY = torch.tensor([0.0, -0.2, 0.0])
FLOATER = torch.tensor([0.0, 0.75, 0.0])


def capsule(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor, radius: float) -> torch.Tensor:
    ab = b - a
    t = ((p - a) @ ab / (ab @ ab)).clamp(0, 1)
    return (p - (a + t[:, None] * ab)).norm(dim=1) - radius


def body_sdf(p: torch.Tensor) -> torch.Tensor:
    """A sphere 'torso' and a capsule 'arm' joined, plus a small separate floater blob."""
    torso = (p - BODY).norm(dim=1) - 0.35
    arm = capsule(p, torch.tensor([0.0, -0.1, 0.0]), torch.tensor([0.6, -0.1, 0.0]), 0.08)
    floater = (p - FLOATER).norm(dim=1) - 0.06
    return torch.minimum(torch.minimum(torso, arm), floater)


def dense_grid(fn, config: MeshConfig) -> np.ndarray:
    n = config.resolution + 1
    axes = [np.linspace(lo, hi, n) for lo, hi in zip(config.bbox_min, config.bbox_max, strict=True)]
    points = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    return fn(torch.as_tensor(points, dtype=torch.float32)).numpy().reshape(n, n, n)


CONFIG = MeshConfig(resolution=64, coarse_resolution=16, bbox_min=(-1, -1, -1), bbox_max=(1, 1, 1))


def test_coarse_to_fine_gives_the_dense_mesh_with_far_fewer_evaluations():
    values, evaluations = sdf_grid(body_sdf, CONFIG, torch.device("cpu"))
    dense = dense_grid(body_sdf, CONFIG)
    assert evaluations < 0.35 * dense.size
    assert np.array_equal(np.sign(values), np.sign(dense))
    spacing = (2 / 64,) * 3
    v_fast, f_fast, _, _ = marching_cubes(values, 0.0, spacing=spacing)
    v_dense, f_dense, _, _ = marching_cubes(dense, 0.0, spacing=spacing)
    assert np.array_equal(f_fast, f_dense)
    np.testing.assert_allclose(v_fast, v_dense, atol=1e-5)


def test_mesh_is_one_watertight_outward_piece_without_the_floater():
    mesh = extract_mesh(body_sdf, None, CONFIG)
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    assert tm.is_watertight
    assert tm.volume > 0  # faces wind outwards
    expected = 4 / 3 * np.pi * 0.35**3
    assert expected < tm.volume < expected * 1.2  # the torso plus the arm, not the floater
    assert (np.linalg.norm(mesh.vertices - FLOATER.numpy(), axis=1) > 0.1).all()
    kept = extract_mesh(body_sdf, None, MeshConfig(**{**CONFIG.__dict__, "keep_largest_component": False}))
    assert len(kept.vertices) > len(mesh.vertices)
    assert (np.linalg.norm(kept.vertices - FLOATER.numpy(), axis=1) < 0.1).any()


def test_vertices_lie_on_the_surface_and_take_the_colour_field():
    mesh = extract_mesh(body_sdf, lambda p: (p + 1) / 2, CONFIG)
    assert np.abs(body_sdf(torch.as_tensor(mesh.vertices)).numpy()).max() < 2 / 64
    np.testing.assert_allclose(mesh.colors, (mesh.vertices + 1) / 2, atol=1e-6)
    assert mesh.faces.dtype == np.int32 and mesh.vertices.dtype == np.float32


def test_chunking_does_not_change_the_mesh_and_reports_progress():
    events = []
    tiny_chunks = MeshConfig(**{**CONFIG.__dict__, "chunk_size": 1000})
    a = extract_mesh(body_sdf, None, tiny_chunks, reporter=Reporter(events.append))
    b = extract_mesh(body_sdf, None, CONFIG)
    np.testing.assert_array_equal(a.vertices, b.vertices)
    levels = [e for e in events if isinstance(e, Progress)]
    assert [e.step for e in levels] == [1, 2, 3] and levels[-1].total == 3
    [snapshot] = [e for e in events if isinstance(e, MeshSnapshot)]
    assert len(snapshot.vertices) == len(a.vertices)


def test_cancel_stops_extraction():
    reporter = Reporter()
    reporter.cancel()
    with pytest.raises(Cancelled):
        extract_mesh(body_sdf, None, CONFIG, reporter=reporter)


def test_no_surface_in_the_box_is_a_clear_error():
    with pytest.raises(MeshExtractionError, match="no surface"):
        extract_mesh(lambda p: p.norm(dim=1) + 1.0, None, CONFIG)
    with pytest.raises(MeshExtractionError, match="NaN"):
        extract_mesh(lambda p: p[:, 0] * float("nan"), None, CONFIG)


def test_odd_resolution_still_refines():
    config = MeshConfig(resolution=48, coarse_resolution=16, bbox_min=(-1, -1, -1), bbox_max=(1, 1, 1))
    mesh = extract_mesh(body_sdf, None, config)
    assert mesh.evaluations < 49**3 and len(mesh.faces) > 100


def test_a_module_field_is_evaluated_on_its_own_device_without_gradients():
    class Field(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.radius = torch.nn.Parameter(torch.tensor(0.4))

        def sdf(self, p: torch.Tensor) -> torch.Tensor:
            assert p.device == self.radius.device and not torch.is_grad_enabled()
            return (p.norm(dim=1) - self.radius)[:, None]  # (N, 1) is accepted too

    mesh = extract_mesh(Field().sdf, None, CONFIG)
    radii = np.linalg.norm(mesh.vertices, axis=1)
    assert abs(radii.mean() - 0.4) < 0.01


def test_a_surface_cut_by_the_box_is_reported():
    events = []
    extract_mesh(lambda p: p.norm(dim=1) - 1.2, None, CONFIG, reporter=Reporter(events.append))
    assert any("widen mesh.bbox" in e.message for e in events if isinstance(e, Progress))
    events.clear()
    extract_mesh(body_sdf, None, CONFIG, reporter=Reporter(events.append))
    assert not any("widen" in e.message for e in events if isinstance(e, Progress))
    # a stray blob at the box's edge (an unconstrained field outside the scene) is dropped, not reported
    corner = torch.tensor(CONFIG.bbox_min, dtype=torch.float32)
    with_blob = lambda p: torch.minimum(body_sdf(p), (p - corner).norm(dim=1) - 0.05)  # noqa: E731
    events.clear()
    mesh = extract_mesh(with_blob, None, CONFIG, reporter=Reporter(events.append))
    assert not any("widen" in e.message for e in events if isinstance(e, Progress))
    assert np.linalg.norm(mesh.vertices - corner.numpy(), axis=1).min() > 0.1
