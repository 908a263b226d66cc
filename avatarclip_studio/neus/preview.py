"""Light previews of a field for the live view: a coarse marching-cubes mesh with texture colours."""

from __future__ import annotations

import numpy as np
import torch
from skimage.measure import marching_cubes

from avatarclip_studio.neus.fields import NeusAvatarField


@torch.no_grad()
def coarse_mesh(field: NeusAvatarField, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Zero level set on a ``resolution³`` grid over the scene cube → ``(vertices (V, 3) float32,
    faces (F, 3) int32, colours (V, 3) float32)``, or None when the grid holds no surface."""
    r = field.config.scene_radius
    device = next(field.parameters()).device
    axis = torch.linspace(-r, r, resolution, device=device)
    grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)
    sdf = torch.cat([field.sdf(chunk) for chunk in grid.split(65536)]).reshape((resolution,) * 3)
    values = sdf.cpu().numpy()
    if not (values.min() < 0.0 < values.max()):
        return None
    spacing = 2.0 * r / (resolution - 1)
    verts, faces, _, _ = marching_cubes(values, level=0.0, spacing=(spacing,) * 3)
    verts = (verts - r).astype(np.float32)
    colors = field.texture(torch.from_numpy(verts).to(device)).cpu().numpy().astype(np.float32)
    # marching_cubes orients faces towards increasing values (outside); keep them counter-clockwise outside
    return verts, faces[:, ::-1].astype(np.int32).copy(), colors
