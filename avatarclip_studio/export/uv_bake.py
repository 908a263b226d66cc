"""A per-triangle UV atlas and its baked colour texture (no unwrapping library needed).

Triangles are packed in pairs into the square cells of a regular grid: one triangle below the cell's
diagonal, the next above it. Every texel belongs to exactly one triangle and takes the colour of the
surface point at its barycentric coordinates (clamped, so the texels around a triangle repeat its edge:
a gutter against bleeding under bilinear filtering). The colour comes from the vertex colours, or from
a colour field ``color_fn(points) -> (N, 3)`` (e.g. the NeuS texture head) for detail finer than the mesh.
The UVs sit half a texel inside their triangle so sampling never reads a neighbour's texels.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from avatarclip_studio.avatar.extract import FieldFn, evaluate_chunked
from avatarclip_studio.avatar.skinned import SkinnedAvatar

# corners of the lower and upper triangle of a unit cell, in (u, v) cell coordinates
_LOWER = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
_UPPER = np.array([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])


MIN_CELL_TEXELS = 6
"""Texels per cell side below which the texture is enlarged (each triangle then covers ~18 texels)."""
MAX_SIZE = 8192


def _cells_per_side(num_faces: int) -> int:
    return int(np.ceil(np.sqrt((num_faces + 1) // 2)))


def atlas_size(num_faces: int, size: int) -> int:
    """``size``, or the next power of two that gives each cell ``MIN_CELL_TEXELS`` texels a side."""
    per_side = _cells_per_side(num_faces)
    if size >= per_side * MIN_CELL_TEXELS:
        return size
    needed = 1 << int(np.ceil(np.log2(per_side * MIN_CELL_TEXELS)))
    if needed > MAX_SIZE:
        raise ValueError(f"{num_faces} triangles need a texture over {MAX_SIZE}² (simplify the mesh first)")
    return needed


def _uv_triangle(corners: np.ndarray, cell: float) -> np.ndarray:
    """``corners (..., 3, 2)`` of a cell triangle shrunk towards its centroid until every edge lies 0.71
    texel inside (the reach of a bilinear read), in cell units."""
    centroid = corners.mean(axis=-2, keepdims=True)
    return corners + (centroid - corners) * min(3.0 / cell, 0.6)


def _barycentric(local: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (N, 3) of ``local (N, 2)`` in the triangle ``corners (3, 2)``, clamped to
    the triangle (texels outside it repeat its edge colour: the gutter)."""
    a, b, c = corners
    m = np.stack([b - a, c - a], axis=1)  # columns: edges
    lam = (local - a) @ np.linalg.inv(m).T
    bary = np.stack([1.0 - lam.sum(axis=1), lam[:, 0], lam[:, 1]], axis=1)
    bary = np.clip(bary, 0.0, 1.0)
    return bary / bary.sum(axis=1, keepdims=True)


def atlas_uvs(num_faces: int, size: int) -> np.ndarray:
    """UVs (F, 3, 2) float32 of each triangle's corners, in [0, 1], v down (glTF's convention)."""
    per_side = _cells_per_side(num_faces)
    index = np.arange(num_faces)
    pair = index // 2
    origin = np.stack([pair % per_side, pair // per_side], axis=1).astype(np.float64)  # cell column, row
    corners = np.where((index % 2 == 0)[:, None, None], _LOWER, _UPPER)
    corners = _uv_triangle(corners, size / per_side)
    return ((origin[:, None, :] + corners) / per_side).astype(np.float32)


def bake_texture(
    avatar: SkinnedAvatar,
    size: int = 1024,
    color_fn: FieldFn | None = None,
    device: torch.device | str = "cpu",
) -> SkinnedAvatar:
    """A copy of ``avatar`` with one vertex per triangle corner, ``uvs (3F, 2)`` and a square ``texture``
    uint8 of side ``size`` (or larger: :func:`atlas_size`); skin, joints and vertex colours carried over."""
    faces = avatar.faces.astype(np.int64)
    num_faces = len(faces)
    size = atlas_size(num_faces, size)
    per_side = _cells_per_side(num_faces)
    cell = size / per_side
    rows, cols = np.mgrid[0:size, 0:size]
    texel = np.stack([cols.ravel(), rows.ravel()], axis=1) + 0.5
    cell_pos = texel / cell
    cell_id = np.floor(cell_pos).astype(np.int64)
    local = cell_pos - cell_id
    upper = local.sum(axis=1) > 1.0
    face = 2 * (cell_id[:, 1] * per_side + cell_id[:, 0]) + upper
    used = face < num_faces
    lower_bary = _barycentric(local, _uv_triangle(_LOWER, cell))
    bary = np.where(upper[:, None], _barycentric(local, _uv_triangle(_UPPER, cell)), lower_bary)[used]
    corner_ids = faces[face[used]]
    if color_fn is None:
        colors = np.einsum("nk,nkc->nc", bary, avatar.colors[corner_ids])
    else:
        points = np.einsum("nk,nkc->nc", bary, avatar.vertices[corner_ids]).astype(np.float32)
        colors = evaluate_chunked(color_fn, points, 65536, torch.device(device))
    texture = np.zeros((size * size, 3), np.uint8)
    texture[used] = np.clip(np.round(np.asarray(colors) * 255.0), 0, 255).astype(np.uint8)
    split = faces.reshape(-1)
    return replace(
        avatar,
        vertices=avatar.vertices[split],
        faces=np.arange(3 * num_faces, dtype=np.int32).reshape(num_faces, 3),
        colors=avatar.colors[split],
        skin_weights=avatar.skin_weights[split],
        uvs=atlas_uvs(num_faces, size).reshape(-1, 2),
        texture=texture.reshape(size, size, 3),
    )
