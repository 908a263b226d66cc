"""A tiny differentiable point-splat renderer in torch: body vertices → shaded images.

Used to make the offline model's training renders (fast, batched, no GL context) and to measure
whether guidance gradients move per-vertex colours the right way. Vertices are dense enough on the
body (~1 cm apart) that splatting each onto its 2×2 nearest pixels at ≤ 128² leaves no holes.
The image is differentiable with respect to the vertex colours (visibility is not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

DEPTH_TOLERANCE = 0.03
"""Points within 3 cm of the nearest depth at a pixel count as visible (one surface, averaged)."""


@dataclass(frozen=True)
class Cameras:
    """A batch of pinhole cameras looking at a target (OpenGL axes: camera looks along its −z)."""

    rotation: torch.Tensor
    """(B,3,3) world→camera rotation (rows: right, up, back)."""
    eye: torch.Tensor
    """(B,3) camera centres, world metres."""
    fov_degrees: float = 60.0


def orbit_cameras(
    azimuth: torch.Tensor,
    elevation: torch.Tensor,
    distance: torch.Tensor,
    target: torch.Tensor,
    fov: float = 60.0,
) -> Cameras:
    """Cameras on spheres around ``target (B,3)``; azimuth 0 looks at the body's front (+z), radians (B,)."""
    direction = torch.stack(
        [
            torch.sin(azimuth) * torch.cos(elevation),
            torch.sin(elevation),
            torch.cos(azimuth) * torch.cos(elevation),
        ],
        dim=-1,
    )
    eye = target + distance[:, None] * direction
    back = F.normalize(eye - target, dim=-1)
    up_world = torch.tensor([0.0, 1.0, 0.0], dtype=eye.dtype, device=eye.device).expand_as(back)
    right = F.normalize(torch.cross(up_world, back, dim=-1), dim=-1)
    up = torch.cross(back, right, dim=-1)
    return Cameras(rotation=torch.stack([right, up, back], dim=1), eye=eye, fov_degrees=fov)


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted unit normals (B,V,3) of ``vertices (B,V,3)`` with ``faces (F,3)``."""
    v0, v1, v2 = (vertices[:, faces[:, k]] for k in range(3))
    face_n = torch.cross(v1 - v0, v2 - v0, dim=-1)
    normals = torch.zeros_like(vertices)
    for k in range(3):
        normals.index_add_(1, faces[:, k], face_n)
    return F.normalize(normals, dim=-1)


def lambert(normals: torch.Tensor, light: torch.Tensor, ambient: torch.Tensor) -> torch.Tensor:
    """METHOD.md's grey shading ``A + (1 − A)·max(n·l, 0)``: (B,V,1) from normals (B,V,3), light (B,3)."""
    diffuse = (normals * light[:, None]).sum(-1, keepdim=True).clamp_min(0.0)
    return ambient[:, None, None] + (1.0 - ambient[:, None, None]) * diffuse


def splat(
    vertices: torch.Tensor, colors: torch.Tensor, cameras: Cameras, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Render coloured points; returns ``rgb (B,C,S,S)`` (black where empty) and ``alpha (B,1,S,S)``.

    ``vertices (B,V,3)`` world metres, ``colors (B,V,C)`` or ``(1,V,C)`` in [0, 1] (differentiable);
    usually C = 3, but any per-vertex attribute is averaged the same way (e.g. region masks).
    """
    batch, num_v, _ = vertices.shape
    channels = colors.shape[-1]
    cam = torch.einsum("bij,bvj->bvi", cameras.rotation, vertices - cameras.eye[:, None])
    depth = -cam[..., 2]
    focal = 0.5 * size / math.tan(math.radians(cameras.fov_degrees) / 2)
    safe = depth.clamp_min(1e-3)
    u = focal * cam[..., 0] / safe + 0.5 * size - 0.5
    v = -focal * cam[..., 1] / safe + 0.5 * size - 0.5
    u0, v0 = torch.floor(u), torch.floor(v)
    fu, fv = u - u0, v - v0
    keys, weights = [], []
    for du, dv, w in (
        (0, 0, (1 - fu) * (1 - fv)),
        (1, 0, fu * (1 - fv)),
        (0, 1, (1 - fu) * fv),
        (1, 1, fu * fv),
    ):
        px, py = u0.long() + du, v0.long() + dv
        inside = (px >= 0) & (px < size) & (py >= 0) & (py < size) & (depth > 1e-3)
        base = torch.arange(batch, device=vertices.device)[:, None] * size * size
        keys.append(torch.where(inside, base + py * size + px, -1))
        weights.append(w)
    key = torch.cat(keys, 1).reshape(-1)
    weight = torch.cat(weights, 1).reshape(-1).detach()
    point_depth = depth.detach().repeat(1, 4).reshape(-1)
    point_color = colors.expand(batch, num_v, channels).repeat(1, 4, 1).reshape(-1, channels)
    valid = key >= 0
    key, weight, point_depth, point_color = key[valid], weight[valid], point_depth[valid], point_color[valid]
    pixels = batch * size * size
    zbuf = torch.full((pixels,), float("inf"), device=vertices.device)
    zbuf = zbuf.scatter_reduce(0, key, point_depth, reduce="amin")
    visible = point_depth <= zbuf[key] + DEPTH_TOLERANCE
    key, weight, point_color = key[visible], weight[visible], point_color[visible]
    wsum = torch.zeros(pixels, device=vertices.device).index_add(0, key, weight)
    acc = torch.zeros(pixels, channels, device=vertices.device, dtype=point_color.dtype)
    acc = acc.index_add(0, key, point_color * weight[:, None])
    rgb = acc / wsum.clamp_min(1e-6)[:, None]
    alpha = (wsum > 0.05).float()
    rgb = rgb * alpha[:, None]
    return rgb.reshape(batch, size, size, channels).permute(0, 3, 1, 2), alpha.reshape(batch, 1, size, size)
