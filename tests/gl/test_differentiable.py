"""Differentiable renders: triangle ids + attribute interpolation, and the soft point splats."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from avatarclip_studio.render.camera import orbit_camera, project
from avatarclip_studio.render.differentiable import interpolate, rasterize_ids, splat_render
from avatarclip_studio.render.offscreen import OffscreenRenderer

CAMERA = orbit_camera(0.0, 0.0, 3.0)


def _sphere(subdivisions: int = 3) -> tuple[np.ndarray, np.ndarray]:
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions, radius=0.5)
    return np.asarray(sphere.vertices, np.float32), np.asarray(sphere.faces, np.int64)


def test_triangle_ids_match_the_silhouette_and_barycentrics_sum_to_one(gl: OffscreenRenderer) -> None:
    vertices, faces = _sphere()
    tri_ids, bary = rasterize_ids(gl, vertices, faces, CAMERA, 64)
    assert tri_ids.shape == (64, 64) and bary.shape == (64, 64, 3)
    covered = tri_ids >= 0
    # a 0.5 m sphere 3 m away with a 60° fov covers π·(tan(asin(0.5/3))/tan 30°)²/4 ≈ 0.067 of the image
    assert float(covered.float().mean()) == pytest.approx(0.067, abs=0.005)
    assert int(tri_ids.max()) < len(faces)
    torch.testing.assert_close(bary[covered].sum(-1), torch.ones(int(covered.sum())), atol=1e-4, rtol=0)
    # the centre pixel's triangle faces the camera (+z) and lies under that pixel
    centre = faces[int(tri_ids[32, 32])]
    assert vertices[centre, 2].mean() > 0.45
    point = (bary[32, 32].numpy()[:, None] * vertices[centre]).sum(0)
    assert project(CAMERA, point[None], 64, 64)[0, :2] == pytest.approx((32.5, 32.5), abs=0.1)


def test_interpolate_shows_vertex_colours_and_passes_gradients(gl: OffscreenRenderer) -> None:
    vertices, faces = _sphere()
    tri_ids, bary = rasterize_ids(gl, torch.from_numpy(vertices), torch.from_numpy(faces), CAMERA, (48, 32))
    assert tri_ids.shape == (32, 48)
    colors = torch.from_numpy(
        (vertices[:, 0:1] > 0) * np.array([[1.0, 0.0, 0.0]], np.float32)
    ).requires_grad_(True)
    image = interpolate(colors, faces, tri_ids, bary, background=(0.0, 0.0, 1.0))
    assert image.shape == (3, 32, 48)
    pixels = image.detach()
    assert float(pixels[2, 0, 0]) == 1.0  # background
    assert float(pixels[0, 16, 27]) > 0.9 and float(pixels[0, 16, 21]) < 0.1  # +x half red, on the right
    image[0].sum().backward()
    assert colors.grad is not None
    seen = torch.unique(torch.from_numpy(faces)[tri_ids[tri_ids >= 0]])
    assert (colors.grad[seen, 0] > 0).all()  # every visible vertex gets gradient...
    hidden = torch.from_numpy(vertices[:, 2] < -0.3)
    assert (colors.grad[hidden] == 0).all()  # ... the back of the sphere none


def test_splat_render_covers_the_shape_and_has_position_gradients() -> None:
    vertices, _ = _sphere(4)
    verts = torch.from_numpy(vertices)[None].requires_grad_(True)
    colors = torch.full_like(verts, 0.2).requires_grad_(True)
    image = splat_render(verts, colors, CAMERA, 32, sigma_px=1.0, background=(1.0, 1.0, 1.0))
    assert image.shape == (1, 3, 32, 32)
    dark = image[0, 0].detach() < 0.5
    # the 0.067-of-the-image disc, grown by the splats' tails (≈ 2σ on a dense mesh), centred
    assert 0.067 < float(dark.float().mean()) < 0.2
    rows, cols = torch.nonzero(dark, as_tuple=True)
    assert float(rows.float().mean()) == pytest.approx(15.5, abs=0.5)
    assert float(cols.float().mean()) == pytest.approx(15.5, abs=0.5)
    assert float(image[0, 0, 16, 16].detach()) == pytest.approx(0.2, abs=0.02)
    assert float(image[0, 0, 0, 0].detach()) == pytest.approx(1.0, abs=1e-4)
    # pushing the image's mean brightness down pulls silhouette points outward (more dark coverage)
    image.mean().backward()
    assert verts.grad is not None and colors.grad is not None
    rim = np.abs(vertices[:, 2]) < 0.1  # on the silhouette seen from +z
    radial = (verts.grad[0, rim, :2] * torch.from_numpy(vertices[rim, :2])).sum(-1)
    assert float(radial.mean()) < 0  # descending the loss moves them outward
    assert float(colors.grad[0, vertices[:, 2] > 0.45].abs().sum()) > 0
    assert float(colors.grad[0, vertices[:, 2] < -0.45].abs().sum()) < 1e-6  # hidden by the soft z-buffer


def test_splat_render_soft_z_buffer_keeps_the_front_colour() -> None:
    near = torch.tensor([[[0.0, 0.0, 0.5]]])
    far = torch.tensor([[[0.0, 0.0, -0.5]]])
    behind = torch.tensor([[[0.0, 0.0, 3.0]]])  # at the eye: projects to infinity, must be ignored
    verts = torch.cat([near, far, behind], dim=1).requires_grad_(True)
    colors = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]])
    image = splat_render(verts, colors, CAMERA, 17, sigma_px=1.5, background=(0.0, 0.0, 0.0))
    centre = image[0, :, 8, 8].detach()
    assert float(centre[0]) > 0.3 and float(centre[2]) < 1e-3 and float(image[0, 1].detach().max()) == 0.0
    image.sum().backward()
    assert verts.grad is not None and torch.isfinite(verts.grad).all()
    with pytest.raises(ValueError, match=r"\(B, V, 3\)"):
        splat_render(verts[0], colors[0], CAMERA, 17)
