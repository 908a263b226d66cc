"""Render the offline model's training set: the project's body in sampled scenes, captions per image.

Renders are stored as foreground (uint8 RGB) plus a mask; a random background (white, black, noise,
blurred checkerboard — the sculpting stage's four) is composited per training step, so the same
render is seen against many backgrounds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from avatarclip_studio.body.model import BodyModel
from avatarclip_studio.body.skeleton import JOINT_INDEX, NUM_BODY_JOINTS
from avatarclip_studio.guidance.offline.scenes import (
    REGIONS,
    SLEEVE,
    Scene,
    pose_vector,
    region_labels,
    sample_scene,
    vertex_colors,
)
from avatarclip_studio.guidance.offline.splat import Cameras, lambert, orbit_cameras, splat, vertex_normals


@dataclass(frozen=True)
class RenderSet:
    """``images (N,3,S,S)`` uint8 foreground, ``masks (N,1,S,S)`` uint8 0/1, one scene per image."""

    images: torch.Tensor
    masks: torch.Tensor
    scenes: list[Scene]


@dataclass(frozen=True)
class _Shot:
    """Posed, lit and framed scenes: ``verts (N,V,3)``, ``shade (N,V,1)``, cameras, ``labels (V,)``."""

    verts: torch.Tensor
    shade: torch.Tensor
    cams: Cameras
    labels: torch.Tensor


def _shoot(
    body: BodyModel, scenes: list[Scene], seed: int, front_only: bool, rng: np.random.Generator
) -> _Shot:
    """Pose the scenes' bodies and draw random cameras and lights (``rng`` draws the joint noise)."""
    gen = torch.Generator().manual_seed(seed)
    n = len(scenes)
    rest_v, rest_j = body.rest()
    labels = region_labels(body.lbs_weights, rest_v[0], rest_j[0, JOINT_INDEX["head"]])
    betas = torch.zeros(n, body.num_betas)
    betas[:, :3] = torch.tensor([s.betas for s in scenes])
    noise = rng.normal(0, 0.06, (n, NUM_BODY_JOINTS, 3))
    poses = torch.stack([pose_vector(s.pose, s.mirrored, noise[i]) for i, s in enumerate(scenes)])
    with torch.no_grad():
        verts = body(betas=betas, body_pose=poses).vertices
        normals = vertex_normals(verts, body.faces)
    half = math.pi / 6 if front_only else math.pi
    front = torch.rand(n, generator=gen) < 0.6
    spread = torch.where(front, torch.full((n,), math.pi / 2), torch.full((n,), half))
    azimuth = (torch.rand(n, generator=gen) * 2 - 1) * torch.minimum(spread, torch.tensor(half))
    elevation = (torch.randn(n, generator=gen) * 0.25).clamp(-0.5, 0.7)
    distance = 1.8 + 0.8 * torch.rand(n, generator=gen)
    target = torch.randn(n, 3, generator=gen) * torch.tensor([0.05, 0.08, 0.05]) + torch.tensor(
        [0.0, -0.05, 0.0]
    )
    cams = orbit_cameras(azimuth, elevation, distance, target)
    light_dir = F.normalize(
        cams.eye - target + torch.randn(n, 3, generator=gen) * 0.6 * distance[:, None], dim=-1
    )
    ambient = 0.1 + 0.25 * torch.rand(n, generator=gen)
    return _Shot(verts, lambert(normals, light_dir, ambient), cams, labels)


def render_scenes(
    body: BodyModel, scenes: list[Scene], size: int, seed: int, front_only: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Render scenes with random cameras and lights: ``rgb (N,3,S,S)`` float in [0, 1], ``alpha (N,1,S,S)``.

    ``front_only``: cameras within ±30° of the front (for evaluation pairs that must show the same view).
    """
    rng = np.random.default_rng(seed)
    shot = _shoot(body, scenes, seed, front_only, rng)
    albedo = torch.stack([vertex_colors(s, shot.labels, rng) for s in scenes])
    with torch.no_grad():
        return splat(shot.verts, (albedo * shot.shade).clamp(0, 1), shot.cams, size)


def render_region_maps(
    body: BodyModel, scenes: list[Scene], size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shading per clothing region, so a render can be recoloured afterwards without rendering again.

    Returns ``maps (N,R,S,S)`` with R = ``len(REGIONS)``: channel r is the shading where region r is
    seen (0 elsewhere), and ``alpha (N,1,S,S)``. ``recolor(maps, palette)`` gives the RGB image; sleeves
    belong to the shirt or to the skin as each scene's ``long_sleeves`` says.
    """
    rng = np.random.default_rng(seed)
    shot = _shoot(body, scenes, seed, False, rng)
    sleeve_to = torch.tensor([REGIONS.index("shirt" if s.long_sleeves else "skin") for s in scenes])
    onehot = torch.zeros(len(scenes), shot.labels.shape[0], len(REGIONS))
    body_labels = shot.labels.clamp(max=len(REGIONS) - 1).expand(len(scenes), -1)
    regions = torch.where(shot.labels == SLEEVE, sleeve_to[:, None], body_labels)
    onehot.scatter_(2, regions[..., None], 1.0)
    with torch.no_grad():
        return splat(shot.verts, onehot * shot.shade, shot.cams, size)


def recolor(maps: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """RGB foreground ``(N,3,S,S)`` from region shading ``maps (N,R,S,S)`` and colours ``palette (N,R,3)``."""
    return torch.einsum("nrhw,nrc->nchw", maps, palette)


def random_backgrounds(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """(N,3,S,S) backgrounds: white, black, grey noise (0.5 ± 0.2), or a blurred random checkerboard."""
    kind = torch.randint(0, 4, (n,), generator=gen)
    noise = (0.5 + 0.2 * torch.randn(n, 3, size, size, generator=gen)).clamp(0, 1)
    cells = torch.randint(4, 12, (1,), generator=gen).item()
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    checker = (((yy * cells // size) + (xx * cells // size)) % 2).float()
    tint = torch.rand(n, 3, 1, 1, generator=gen)
    board = F.avg_pool2d(checker.expand(n, 1, size, size), 5, stride=1, padding=2) * (1 - tint) + tint * 0.5
    board = board.expand(n, 3, size, size)
    out = torch.where((kind == 0)[:, None, None, None], torch.ones_like(noise), noise)
    out = torch.where((kind == 1)[:, None, None, None], torch.zeros_like(out), out)
    return torch.where((kind == 3)[:, None, None, None], board, out)


def build_render_set(
    body: BodyModel,
    count: int,
    size: int,
    seed: int,
    textured_fraction: float = 0.8,
    batch: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> RenderSet:
    """``count`` random scenes rendered at ``size``²; ``progress(done, count)`` after each batch."""
    rng = np.random.default_rng(seed)
    scenes = [sample_scene(rng, textured=bool(rng.random() < textured_fraction)) for _ in range(count)]
    images, masks = [], []
    for start in range(0, count, batch):
        rgb, alpha = render_scenes(body, scenes[start : start + batch], size, seed=seed * 100_003 + start)
        images.append((rgb * 255).round().to(torch.uint8))
        masks.append(alpha.to(torch.uint8))
        if progress is not None:
            progress(min(start + batch, count), count)
    return RenderSet(images=torch.cat(images), masks=torch.cat(masks), scenes=scenes)


def composite(images: torch.Tensor, masks: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """uint8 renders + masks → float (N,3,S,S) in [0, 1] over random backgrounds."""
    return composite_float(images.float() / 255.0, masks, gen)


def composite_float(fg: torch.Tensor, masks: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Float foregrounds ``(N,3,S,S)`` in [0, 1] + masks → (N,3,S,S) over random backgrounds."""
    alpha = masks.float()
    return fg * alpha + random_backgrounds(fg.shape[0], fg.shape[-1], gen) * (1 - alpha)
