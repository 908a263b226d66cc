"""Pinhole camera rays from eye / target / up / vertical field of view (y up, camera looks at target)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LookAt:
    """A pinhole camera: ``eye`` and ``target`` (3,) in metres, ``up`` (3,), vertical ``fov_deg``."""

    eye: torch.Tensor
    target: torch.Tensor
    up: torch.Tensor
    fov_deg: float = 60.0


def camera_rays(camera: LookAt, width: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays through pixel centres, row-major from the top-left pixel.

    Returns ``origins (H·W, 3)`` and unit ``directions (H·W, 3)`` on the eye's device.
    """
    eye, target = camera.eye.float(), camera.target.float()
    forward = F.normalize(target - eye, dim=0)
    right = torch.linalg.cross(forward, camera.up.float().to(eye.device))
    if float(right.norm()) < 1e-6:
        raise ValueError("camera up vector is parallel to the viewing direction")
    right = F.normalize(right, dim=0)
    true_up = torch.linalg.cross(right, forward)
    half = math.tan(math.radians(camera.fov_deg) / 2.0)
    ys = (1.0 - 2.0 * (torch.arange(height, device=eye.device) + 0.5) / height) * half
    xs = (2.0 * (torch.arange(width, device=eye.device) + 0.5) / width - 1.0) * half * width / height
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    dirs = forward + grid_x.reshape(-1, 1) * right + grid_y.reshape(-1, 1) * true_up
    dirs = F.normalize(dirs, dim=-1)
    return eye.expand_as(dirs).contiguous(), dirs


def project_points(
    camera: LookAt, points: torch.Tensor, width: int, height: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel indices of ``points (N, 3)`` seen by ``camera``: ``(row, col)`` long ``(K,)`` of the K points in
    front of the camera and inside the image (same pixel convention as :func:`camera_rays`)."""
    eye = camera.eye.float()
    forward = F.normalize(camera.target.float() - eye, dim=0)
    right = F.normalize(torch.linalg.cross(forward, camera.up.float().to(eye.device)), dim=0)
    true_up = torch.linalg.cross(right, forward)
    rel = points.float() - eye
    depth = rel @ forward
    front = depth > 1e-3
    half = math.tan(math.radians(camera.fov_deg) / 2.0)
    x = (rel[front] @ right) / depth[front] / (half * width / height)
    y = (rel[front] @ true_up) / depth[front] / half
    col = torch.floor((x + 1.0) * 0.5 * width).long()
    row = torch.floor((1.0 - y) * 0.5 * height).long()
    inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    return row[inside], col[inside]
