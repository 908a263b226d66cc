"""NeuS field, volume rendering and template initialisation (tiny sizes, CPU)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import trimesh

from avatarclip_studio.config import preset
from avatarclip_studio.device import Compute
from avatarclip_studio.neus.fields import FieldFileError, NeusAvatarField, SoftplusWithSlope
from avatarclip_studio.neus.init_fit import TemplateError, fit_template
from avatarclip_studio.neus.occupancy import OccupancyGrid
from avatarclip_studio.neus.rays import LookAt, camera_rays, project_points
from avatarclip_studio.neus.volume_render import march, packed_weights, render_rays, surface_window
from avatarclip_studio.pipeline.events import Progress, Reporter

CPU = Compute(torch.device("cpu"), None)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks: one thread avoids OpenMP barrier stalls when the CI machine is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = preset("tiny").neus


class SphereField(NeusAvatarField):
    """An exact sphere SDF (radius 0.4) with the field's heads: isolates the renderer from the fit."""

    def sdf_and_gradient(self, points, create_graph=False):
        p = points.detach().requires_grad_(True) if create_graph else points
        norm = p.norm(dim=-1)
        _, features = self.sdf_network(p)
        return norm - 0.4, p / norm[:, None], features

    def sdf(self, points):
        return points.norm(dim=-1) - 0.4


def capsule_person() -> trimesh.Trimesh:
    body = trimesh.creation.capsule(height=1.0, radius=0.2)
    body.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    return body


def test_geometric_init_starts_near_a_sphere_and_gradients_are_unit():
    torch.manual_seed(0)
    field = NeusAvatarField(TINY)
    pts = torch.randn(256, 3) * 0.5
    sdf, grad, feats = field.sdf_and_gradient(pts)
    assert sdf.shape == (256,) and grad.shape == (256, 3) and feats.shape == (256, TINY.sdf_width)
    with torch.no_grad():
        inside, outside = field.sdf(torch.zeros(1, 3)), field.sdf(torch.tensor([[0.9, 0.0, 0.0]]))
    assert inside.item() < 0 < outside.item()
    assert float((grad.norm(dim=-1) - 1).abs().median()) < 0.5
    with torch.no_grad():
        assert field.texture(pts).shape == (256, 3) and float(field.color(pts).min()) >= 0


def test_softplus_from_its_slope_equals_torch_softplus_and_its_derivatives():
    beta = 100.0
    z = torch.cat([torch.linspace(-1.0, 1.0, 2001), torch.tensor([-1e3, -0.3, 0.0, 0.3, 1e3])])
    z = z.double().requires_grad_(True)
    value, slope = SoftplusWithSlope.apply(z, beta)
    exact = torch.logaddexp(torch.zeros_like(z), beta * z) / beta  # (torch's softplus goes linear at βz > 20)
    assert torch.allclose(value, exact, rtol=1e-12, atol=1e-15)
    assert torch.allclose(slope, torch.sigmoid(beta * z), rtol=1e-12, atol=1e-15)
    small = z.detach()[900:1100].clone().requires_grad_(True)  # |βz| ≤ 10: where the curvature lives
    assert torch.autograd.gradcheck(lambda x: SoftplusWithSlope.apply(x, beta), (small,))
    for dtype in (torch.float32, torch.bfloat16):  # the same function in the precisions that run it
        v, s = SoftplusWithSlope.apply(z.detach().to(dtype), beta)
        tol = 1e-6 if dtype == torch.float32 else 1e-2
        assert torch.allclose(v.double(), F.softplus(z.detach(), beta), rtol=tol, atol=tol / beta)
        assert torch.allclose(s.double(), torch.sigmoid(beta * z.detach()), atol=tol)


def test_hand_written_gradient_matches_autograd_in_values_and_parameter_gradients():
    """∇f written out (one backward when training) equals autograd's, and so do the training gradients."""
    torch.manual_seed(0)
    field = NeusAvatarField(replace(TINY, pe_frequencies=4, sdf_layers=3, softplus_beta=20.0)).double()
    with torch.no_grad():  # wake the encoding and the biases: the geometric init leaves them silent
        for p in field.sdf_network.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    pts = torch.randn(300, 3, dtype=torch.float64) * 0.6  # float64: compare the maths, not rounding

    def loss(sdf, grad, feats):
        return (sdf**2).sum() + ((grad.norm(dim=-1) - 1.0) ** 2).sum() + (feats * grad[:, :1]).sum()

    def reference(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # torch's own Softplus
        net = field.sdf_network
        x = net.encoding(points)
        for layer in net.layers[:-1]:
            x = F.softplus(layer(x), beta=net.activation.beta)
        out = net.layers[-1](x)
        return out[:, 0], out[:, 1:]

    p = pts.clone().requires_grad_(True)
    sdf_ref, feats_ref = reference(p)
    assert torch.allclose(field.sdf_network(pts)[0], sdf_ref, atol=1e-10)
    (grad_ref,) = torch.autograd.grad(sdf_ref.sum(), p, create_graph=True)
    params = list(field.sdf_network.parameters())
    expected = torch.autograd.grad(loss(sdf_ref, grad_ref, feats_ref), params)

    sdf, grad, feats = field.sdf_network.forward_with_gradient(pts)
    assert torch.allclose(sdf, sdf_ref, atol=1e-10) and torch.allclose(feats, feats_ref, atol=1e-10)
    assert torch.allclose(grad, grad_ref, atol=1e-10)
    assert float(grad.detach().std()) > 0.05  # the comparison is not between two constants
    for a, b in zip(torch.autograd.grad(loss(sdf, grad, feats), params), expected, strict=True):
        assert torch.allclose(a, b, rtol=1e-7, atol=1e-8 * float(b.abs().max()))
    # the field's entry point: with a graph when asked, and without one: the same values, nothing attached
    assert field.sdf_and_gradient(pts, create_graph=True)[1].requires_grad
    sdf_ng, grad_ng, feats_ng = field.sdf_and_gradient(pts)
    assert torch.allclose(grad_ng.double(), grad_ref, atol=1e-6) and not grad_ng.requires_grad
    assert not sdf_ng.requires_grad and not feats_ng.requires_grad


def test_sphere_renders_as_a_disc_with_depth_and_normals():
    torch.manual_seed(0)
    field = SphereField(TINY)
    with torch.no_grad():
        field.variance.fill_(0.6)
    grid = OccupancyGrid(32, 1.0, 0.05)
    grid.update(field.sdf)
    assert 0.01 < grid.fraction < 0.3
    size = 32
    camera = LookAt(torch.tensor([0.0, 0.0, 2.0]), torch.zeros(3), torch.tensor([0.0, 1.0, 0.0]), 60.0)
    origins, dirs = camera_rays(camera, size, size)
    out = render_rays(field, origins, dirs, grid, CPU, with_graph=False)
    opacity = out.opacity.reshape(size, size)
    # the sphere's apparent radius: asin(0.4 / 2) seen through tan(30°) per half image
    ys, xs = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    radius_px = np.tan(np.arcsin(0.2)) / np.tan(np.radians(30)) * size / 2
    disc = ((xs - size / 2) ** 2 + (ys - size / 2) ** 2).sqrt() < radius_px
    agreement = ((opacity > 0.5) == disc).float().mean()
    assert agreement > 0.97
    centre = size // 2 * size + size // 2
    assert abs(float(out.depth[centre] / out.opacity[centre]) - 1.6) < 0.03
    assert float(out.normal[centre, 2]) > 0.95  # faces the camera
    assert float(opacity[0, 0]) == 0.0


def test_the_grid_keeps_its_sdf_interpolates_it_and_saves_it():
    grid = OccupancyGrid(32, 1.0, 0.05)
    with pytest.raises(RuntimeError, match="update"):
        grid.sdf_at(torch.zeros(1, 3))
    sphere = lambda p: p.norm(dim=-1) - 0.4  # noqa: E731
    grid.update(sphere)
    near = F.normalize(torch.randn(2000, 3), dim=-1) * (0.4 + 0.1 * (torch.rand(2000, 1) - 0.5))
    assert float((grid.sdf_at(near) - sphere(near)).abs().max()) < 0.004  # 6 cm cells, smooth surface
    assert float(grid.sdf_at(torch.tensor([[5.0, 0.0, 0.0]]))) > 0.5  # outside the cube: the border value
    restored = OccupancyGrid(32, 1.0, 0.05)
    restored.load_state_dict(grid.state_dict())
    assert restored.sdf is not None and torch.equal(restored.sdf, grid.sdf)
    older = OccupancyGrid(32, 1.0, 0.05)  # a checkpoint written before the grid kept its SDF
    older.load_state_dict({"occupied": grid.occupied})
    assert older.sdf is None and torch.equal(older.occupied, grid.occupied)


def test_surface_window_drops_the_far_side_and_changes_nothing_rendered():
    """Samples behind where a ray entered are dropped before the network sees them; the render is the
    one without the window (the weight pruning would have dropped those samples anyway)."""
    torch.manual_seed(0)
    field = SphereField(TINY)
    with torch.no_grad():
        field.variance.fill_(0.5)  # s ≈ 150, the sculptor's start
    grid = OccupancyGrid(32, 1.0, 0.05)
    grid.update(field.sdf)
    camera = LookAt(torch.tensor([0.0, 0.3, 2.0]), torch.zeros(3), torch.tensor([0.0, 1.0, 0.0]), 40.0)
    origins, dirs = camera_rays(camera, 24, 24)
    samples = march(origins, dirs, grid, 2.0 / TINY.samples_per_ray)
    keep = surface_window(samples, grid, float(field.inv_s.detach()), origins.shape[0])
    past_middle = (samples.points * samples.directions).sum(-1) > 0.0
    central = torch.linalg.cross(samples.points, samples.directions).norm(dim=-1) < 0.3  # ≥ 10 cm deep
    far_side = past_middle & central
    assert far_side.sum() > 50 and not keep[far_side].any()
    assert 0.2 < float(keep.float().mean()) < 0.8
    windowed = render_rays(field, origins, dirs, grid, CPU, with_graph=False)
    grid.sdf = None  # no window: every marched sample goes to the weight pruning
    full = render_rays(field, origins, dirs, grid, CPU, with_graph=False)
    assert windowed.num_samples <= full.num_samples
    assert torch.allclose(windowed.opacity, full.opacity, atol=2e-3)
    assert torch.allclose(windowed.normal, full.normal, atol=2e-3)
    assert float(full.opacity.max()) > 0.99


def test_packed_weights_match_a_per_ray_cumprod():
    alpha = torch.tensor([0.2, 0.5, 0.9, 0.3, 0.6, 1.0, 0.4])
    ray = torch.tensor([0, 0, 0, 2, 2, 2, 2])
    w = packed_weights(alpha, ray, 3)
    expected = []
    for r in (0, 2):
        a = alpha[ray == r]
        t = torch.cat([torch.ones(1), torch.cumprod(1 - a, 0)[:-1]])
        expected.append(a * t)
    assert torch.allclose(w, torch.cat(expected), atol=1e-5)


def test_projection_agrees_with_ray_directions():
    camera = LookAt(
        torch.tensor([0.3, 0.2, 1.5]), torch.tensor([0.0, 0.1, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    )
    origins, dirs = camera_rays(camera, 20, 20)
    points = origins[[5, 77, 310]] + 1.3 * dirs[[5, 77, 310]]
    row, col = project_points(camera, points, 20, 20)
    assert (row * 20 + col).tolist() == [5, 77, 310]


def test_init_fit_reproduces_the_template_sign():
    mesh = capsule_person()
    seen: list = []
    # no time cap: the test must not depend on the machine's load
    config = replace(TINY, init_lr=1e-2, init_batch=2048, init_seconds=1e9)
    field = fit_template(mesh.vertices, mesh.faces, config, CPU, Reporter(seen.append), seed=0)
    rng = np.random.default_rng(1)
    pts = np.concatenate(
        [rng.uniform(-1, 1, (2000, 3)), mesh.sample(2000, seed=2) + rng.normal(0, 0.03, (2000, 3))]
    )
    # exact capsule SDF: distance to the segment along y, minus the radius
    closest = np.stack([np.zeros(len(pts)), np.clip(pts[:, 1], -0.5, 0.5), np.zeros(len(pts))], 1)
    truth = np.linalg.norm(pts - closest, axis=1) - 0.2
    with torch.no_grad():
        sdf = field.sdf(torch.tensor(pts, dtype=torch.float32)).numpy()
    assert ((sdf < 0) == (truth < 0)).mean() > 0.95
    assert any(isinstance(e, Progress) and e.losses for e in seen)
    assert abs(field.inv_s.item() - np.exp(10 * TINY.fitted_inv_deviation)) < 1e-3


def test_field_save_load_round_trip(tmp_path):
    field = NeusAvatarField(TINY)
    field.save(tmp_path / "f.pt")
    again = NeusAvatarField.load(tmp_path / "f.pt")
    pts = torch.rand(10, 3)
    assert torch.equal(field.sdf(pts), again.sdf(pts)) and torch.equal(field.texture(pts), again.texture(pts))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(FieldFileError, match="bad.pt"):
        NeusAvatarField.load(tmp_path / "bad.pt")


def test_template_errors_are_clear():
    mesh = capsule_person()
    with pytest.raises(TemplateError, match="shape"):
        fit_template(mesh.vertices[:, :2], mesh.faces, TINY, CPU, Reporter())
    with pytest.raises(TemplateError, match="scene"):
        fit_template(mesh.vertices * 3, mesh.faces, TINY, CPU, Reporter())


def test_packed_weights_of_no_samples_is_empty():
    empty = torch.zeros(0)
    assert packed_weights(empty, torch.zeros(0, dtype=torch.long), num_rays=8).shape == (0,)
