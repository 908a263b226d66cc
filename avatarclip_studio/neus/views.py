"""Random views, lights and backgrounds of a sculpting step (METHOD.md §3).

All randomness comes from one ``torch.Generator`` so a resumed run draws the same sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from avatarclip_studio.neus.rays import LookAt
from avatarclip_studio.neus.sculpt_config import SculptConfig

FOV_DEG = 60.0
"""Field of view of the original's sculpting cameras."""
MAX_ELEVATION = math.pi / 2 - 0.05
"""Elevations are clipped just short of the poles, where the look-at frame is undefined."""
UP = (0.0, 1.0, 0.0)

ViewKind = Literal["body", "face", "back"]


@dataclass(frozen=True)
class View:
    camera: LookAt
    kind: ViewKind
    """Which prompt the view is judged against: the appearance, face or back prompt."""


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen))


def _normal(gen: torch.Generator, std: float) -> float:
    return std * float(torch.randn((), generator=gen))


def _direction(azimuth: float, elevation: float) -> torch.Tensor:
    """Unit vector; azimuth 0 looks from +z (the body's front), elevation up towards +y."""
    return torch.tensor(
        [
            math.cos(elevation) * math.sin(azimuth),
            math.sin(elevation),
            math.cos(elevation) * math.cos(azimuth),
        ]
    )


def sample_view(step: int, config: SculptConfig, head_position: torch.Tensor, gen: torch.Generator) -> View:
    """One random camera: a face zoom every ``face_every``-th step, else a body view around the origin."""
    if config.face_every > 0 and (step + 1) % config.face_every == 0:
        azimuth = _uniform(gen, -math.pi / 2, math.pi / 2)  # the face is seen from the front half
        elevation = max(min(_normal(gen, config.face_elevation_std), MAX_ELEVATION), -MAX_ELEVATION)
        target = head_position.float().cpu()
        eye = target + config.face_distance * _direction(azimuth, elevation)
        kind: ViewKind = "face"
    else:
        distance = _uniform(gen, *config.cam_distance_range)
        azimuth = _uniform(gen, 0.0, 2 * math.pi)
        elevation = max(min(_normal(gen, config.cam_elevation_std), MAX_ELEVATION), -MAX_ELEVATION)
        jitter = (torch.randn(3, generator=gen) * config.lookat_jitter_std).clamp(
            -config.lookat_jitter_clip, config.lookat_jitter_clip
        )
        target = jitter
        eye = target + distance * _direction(azimuth, elevation)
        behind = abs(math.remainder(azimuth - math.pi, 2 * math.pi)) < config.back_view_angle
        kind = "back" if behind else "body"
    return View(LookAt(eye=eye, target=target, up=torch.tensor(UP), fov_deg=FOV_DEG), kind)


def sample_light(camera: LookAt, config: SculptConfig, gen: torch.Generator) -> tuple[torch.Tensor, float]:
    """Light direction ``(3,)`` (towards the light): the camera direction jittered by ±``light_jitter`` in
    azimuth and elevation; and the ambient term A ~ U(0, ``ambient_max``) (diffuse D = 1 − A)."""
    to_camera = F.normalize(camera.eye - camera.target, dim=0)
    azimuth = math.atan2(float(to_camera[0]), float(to_camera[2])) + _uniform(
        gen, -config.light_jitter, config.light_jitter
    )
    elevation = math.asin(max(-1.0, min(1.0, float(to_camera[1]))))
    elevation = max(
        min(elevation + _uniform(gen, -config.light_jitter, config.light_jitter), MAX_ELEVATION),
        -MAX_ELEVATION,
    )
    return _direction(azimuth, elevation), _uniform(gen, 0.0, config.ambient_max)


def sample_background(size: int, gen: torch.Generator) -> torch.Tensor:
    """``(size, size, 3)`` in [0, 1]: white, Gaussian noise (0.5 ± 0.2), a blurred checkerboard, or black."""
    kind = int(torch.randint(0, 4, (), generator=gen))
    if kind == 0:
        return torch.ones(size, size, 3)
    if kind == 1:
        return (0.5 + 0.2 * torch.randn(size, size, 3, generator=gen)).clamp(0.0, 1.0)
    if kind == 2:
        cells = int(torch.randint(4, 17, (), generator=gen))
        ij = torch.arange(size) * cells // size
        board = ((ij[:, None] + ij[None, :]) % 2).float()
        colors = torch.rand(2, 3, generator=gen)
        image = colors[0] + board[..., None] * (colors[1] - colors[0])
        blur = max(1, size // 64) * 2 + 1
        image = F.avg_pool2d(
            image.permute(2, 0, 1)[None], blur, stride=1, padding=blur // 2, count_include_pad=False
        )
        return image[0].permute(1, 2, 0).contiguous()
    return torch.zeros(size, size, 3)
