"""Camera math: look-at, projection, orbit conventions, rays, the viewport's orbit controller."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avatarclip_studio.render import camera_torch
from avatarclip_studio.render.camera import (
    Camera,
    CameraError,
    OrbitController,
    camera_rays,
    orbit_camera,
    project,
)


def test_target_projects_to_the_image_centre() -> None:
    cam = orbit_camera(37.0, 20.0, 2.5, target=(0.1, 0.9, -0.2))
    (x, y, depth) = project(cam, np.array([[0.1, 0.9, -0.2]]), 160, 120)[0]
    assert (x, y) == pytest.approx((80.0, 60.0), abs=1e-3)
    assert depth == pytest.approx(2.5, rel=1e-5)


def test_azimuth_zero_faces_the_body_front_and_y_is_up() -> None:
    cam = orbit_camera(0.0, 0.0, 3.0)
    assert cam.eye == pytest.approx((0.0, 0.0, 3.0))
    px = project(cam, np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]]), 100, 100)
    assert px[0, 0] > 50  # +x (the body's left) is on the image's right
    assert px[1, 1] < 50  # +y is up (row 0 at the top)
    assert orbit_camera(90.0, 0.0, 3.0).eye == pytest.approx((3.0, 0.0, 0.0), abs=1e-6)
    assert orbit_camera(0.0, 30.0, 2.0).eye[1] == pytest.approx(1.0)  # positive elevation: above


def test_projection_maps_near_and_far_planes_to_ndc_bounds() -> None:
    cam = Camera(eye=(0, 0, 0), target=(0, 0, -1), near=0.5, far=10.0)
    proj = cam.projection_matrix(1.5)
    for z, expected in ((-0.5, -1.0), (-10.0, 1.0)):
        clip = proj @ np.array([0.0, 0.0, z, 1.0])
        assert clip[2] / clip[3] == pytest.approx(expected, abs=1e-5)
    assert proj.dtype == np.float32 and cam.view_matrix().dtype == np.float32


def test_rays_pass_through_projected_pixels_and_torch_matches_numpy() -> None:
    cam = orbit_camera(-30.0, 15.0, 2.0, target=(0.0, 1.0, 0.0), fov_deg=50.0)
    origins, dirs = camera_rays(cam, 8, 6)
    assert origins.shape == dirs.shape == (48, 3)
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=1), 1.0, atol=1e-5)
    # a point 1.7 units along the ray of pixel (row 4, col 5) projects to that pixel's centre
    point = origins[4 * 8 + 5] + 1.7 * dirs[4 * 8 + 5]
    assert project(cam, point[None], 8, 6)[0, :2] == pytest.approx((5.5, 4.5), abs=1e-3)
    t_origins, t_dirs = camera_torch.camera_rays(cam, 8, 6)
    np.testing.assert_allclose(t_dirs.numpy(), dirs, atol=1e-5)
    np.testing.assert_allclose(t_origins.numpy(), origins, atol=1e-5)


def test_torch_projection_matches_numpy_and_is_differentiable() -> None:
    cam = orbit_camera(25.0, 10.0, 3.0, target=(0.0, 0.8, 0.0))
    pts = torch.tensor([[0.2, 1.1, 0.1], [-0.3, 0.2, -0.1]], requires_grad=True)
    pixels, depth = camera_torch.project_points(pts, cam, 64, 48)
    expected = project(cam, pts.detach().numpy(), 64, 48)
    np.testing.assert_allclose(pixels.detach().numpy(), expected[:, :2], atol=1e-3)
    np.testing.assert_allclose(depth.detach().numpy(), expected[:, 2], atol=1e-5)
    pixels[:, 0].sum().backward()
    assert pts.grad is not None and pts.grad.abs().sum() > 0
    np.testing.assert_allclose(camera_torch.view_matrix(cam).numpy(), cam.view_matrix(), atol=1e-6)
    proj = camera_torch.perspective(cam.fov_deg, 4 / 3, cam.near, cam.far)
    np.testing.assert_allclose(proj.numpy(), cam.projection_matrix(4 / 3), rtol=1e-5)


def test_bad_cameras_raise_clear_errors() -> None:
    with pytest.raises(CameraError, match="on its target"):
        Camera(eye=(1, 1, 1), target=(1, 1, 1)).view_matrix()
    with pytest.raises(CameraError, match="parallel"):
        Camera(eye=(0, 3, 0), target=(0, 0, 0)).view_matrix()
    with pytest.raises(CameraError, match="near < far"):
        Camera(near=2.0, far=1.0).projection_matrix(1.0)
    with pytest.raises(CameraError, match="elevation"):
        orbit_camera(0.0, 90.0, 1.0)


def test_orbit_controller_orbits_pans_zooms_frames_and_resets() -> None:
    ctl = OrbitController()
    home = ctl.camera()
    ctl.orbit(100.0, 0.0)
    assert ctl.azimuth_deg == pytest.approx(320.0)
    ctl.orbit(0.0, 1000.0)
    assert ctl.elevation_deg == pytest.approx(89.0)  # clamped short of the pole
    ctl.reset()
    before = np.array(ctl.target)
    ctl.pan(0.1, 0.0)  # drag right: the scene follows the cursor, the target moves left (−x at az 0)
    assert ctl.target[0] < before[0] and ctl.target[1] == pytest.approx(before[1])
    distance = ctl.distance
    ctl.zoom(2.0)
    assert ctl.distance == pytest.approx(distance * 0.81)
    ctl.reset()
    assert ctl.camera() == home
    lo, hi = np.array([-1.0, 0.0, -1.0]), np.array([1.0, 2.0, 1.0])
    ctl.aspect = 0.5  # a tall, narrow view must back off further
    ctl.frame(lo, hi)
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (0, 2) for z in (-1, 1)], float)
    px = project(ctl.camera(), corners, 50, 100)
    assert (
        (px[:, 0] >= 0).all() and (px[:, 0] <= 50).all() and (px[:, 1] >= 0).all() and (px[:, 1] <= 100).all()
    )
    assert ctl.target == pytest.approx([0.0, 1.0, 0.0])
