"""Torch versions of the camera math in :mod:`avatarclip_studio.render.camera` (same conventions):
look-at and perspective matrices, point projection to pixels and per-pixel rays, on any device."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from avatarclip_studio.render.camera import Camera, CameraError


def _vec(values: tuple[float, float, float], device: torch.device | str | None) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32, device=device)


def look_at(eye: torch.Tensor, target: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """(4, 4) world → camera matrix from ``eye``, ``target``, ``up`` (3,); differentiable in all three."""
    forward = F.normalize(target - eye, dim=0)
    right = torch.linalg.cross(forward, up)
    if float(right.norm()) < 1e-9:
        raise CameraError("camera up vector is parallel to the viewing direction")
    right = F.normalize(right, dim=0)
    true_up = torch.linalg.cross(right, forward)
    rot = torch.stack([right, true_up, -forward])
    bottom = torch.tensor([[0.0, 0.0, 0.0, 1.0]], dtype=eye.dtype, device=eye.device)
    return torch.cat([torch.cat([rot, -(rot @ eye)[:, None]], dim=1), bottom])


def perspective(
    fov_deg: float, aspect: float, near: float, far: float, device: torch.device | str | None = None
) -> torch.Tensor:
    """(4, 4) camera → clip matrix (``gluPerspective``), equal to :meth:`Camera.projection_matrix`."""
    f = 1.0 / math.tan(math.radians(fov_deg) / 2.0)
    proj = torch.zeros(4, 4, device=device)
    proj[0, 0], proj[1, 1] = f / aspect, f
    proj[2, 2], proj[2, 3] = (far + near) / (near - far), 2 * far * near / (near - far)
    proj[3, 2] = -1.0
    return proj


def view_matrix(camera: Camera, device: torch.device | str | None = None) -> torch.Tensor:
    """(4, 4) float32 world → camera of ``camera``."""
    return look_at(_vec(camera.eye, device), _vec(camera.target, device), _vec(camera.up, device))


def project_points(
    points: torch.Tensor, camera: Camera, width: int, height: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates and depth of ``points (..., 3)``, differentiable in the points.

    Returns ``pixels (..., 2)`` (x right, y down; the centre of pixel (i, j) is at (j + 0.5, i + 0.5),
    as in the GL rasteriser) and ``depth (...)``, the distance along the view axis (negative: behind).
    """
    view = view_matrix(camera, points.device).to(points.dtype)
    cam = points @ view[:3, :3].T + view[:3, 3]
    depth = -cam[..., 2]
    f = 1.0 / math.tan(math.radians(camera.fov_deg) / 2.0)
    safe = torch.where(depth.abs() > 1e-9, depth, torch.full_like(depth, 1e-9))
    ndc_x = f * height / width * cam[..., 0] / safe
    ndc_y = f * cam[..., 1] / safe
    pixels = torch.stack([(ndc_x + 1.0) * 0.5 * width, (1.0 - ndc_y) * 0.5 * height], dim=-1)
    return pixels, depth


def camera_rays(
    camera: Camera, width: int, height: int, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays through pixel centres, row-major from the top-left pixel: ``origins (H·W, 3)`` and unit
    ``directions (H·W, 3)`` float32 on ``device`` (the numpy twin is ``camera.camera_rays``)."""
    right, up, forward = (torch.as_tensor(a, dtype=torch.float32, device=device) for a in camera.basis())
    half = math.tan(math.radians(camera.fov_deg) / 2.0)
    ys = (1.0 - 2.0 * (torch.arange(height, device=device) + 0.5) / height) * half
    xs = (2.0 * (torch.arange(width, device=device) + 0.5) / width - 1.0) * half * width / height
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    dirs = F.normalize(forward + gx.reshape(-1, 1) * right + gy.reshape(-1, 1) * up, dim=-1)
    return _vec(camera.eye, device).expand_as(dirs).contiguous(), dirs
