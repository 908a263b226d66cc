"""Mesh extraction: coarse-to-fine marching cubes of an SDF, largest component, vertex colours.

Evaluating the SDF on the grid is the whole cost of marching cubes (PERFORMANCE.md). A dense coarse grid
is evaluated first; each finer level halves the cell size only inside cells whose corners come within
``refine_margin × cell diagonal`` of the surface. Corners of far cells keep their exact values, and the
points inside them are filled by trilinear interpolation, which keeps their sign (all corners share it), so
marching cubes sees the same crossings as on the dense grid: the identical mesh from a fraction of the
evaluations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from skimage.measure import marching_cubes

from avatarclip_studio.avatar.config import MeshConfig
from avatarclip_studio.pipeline.events import MeshSnapshot, Progress, Reporter

FieldFn = Callable[[torch.Tensor], torch.Tensor]
"""``points (N, 3) -> values``: ``(N,)`` or ``(N, 1)`` for an SDF, ``(N, 3)`` in [0, 1] for a colour."""


class MeshExtractionError(ValueError):
    """The field has no surface in the box, or the SDF returned unusable values."""


@dataclass(frozen=True)
class ExtractedMesh:
    vertices: np.ndarray
    """(V, 3) float32, metres, in the box's frame."""
    faces: np.ndarray
    """(F, 3) int32, counter-clockwise seen from outside (normals point out of the negative SDF)."""
    colors: np.ndarray
    """(V, 3) float32 in [0, 1]; grey when no colour function was given."""
    evaluations: int
    """SDF evaluations spent (a dense grid needs ``(resolution + 1)³``)."""


def _levels(config: MeshConfig) -> list[int]:
    """Cells per side of each level, coarse to fine, each twice the previous one."""
    cells = config.resolution
    levels = [cells]
    while cells % 2 == 0 and cells // 2 >= config.coarse_resolution:
        cells //= 2
        levels.append(cells)
    return levels[::-1]


def _device_of(fn: FieldFn) -> torch.device:
    """The device of a bound ``nn.Module`` method's parameters, else the CPU."""
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, torch.nn.Module):
        for p in owner.parameters():
            return p.device
    return torch.device("cpu")


def evaluate_chunked(
    fn: FieldFn,
    points: np.ndarray,
    chunk_size: int,
    device: torch.device,
    reporter: Reporter | None = None,
) -> np.ndarray:
    """``fn`` on ``points (N, 3)`` in chunks, without gradients; float32 numpy ``(N,)`` or ``(N, C)``."""
    out = []
    with torch.no_grad():
        for start in range(0, len(points), chunk_size):
            if reporter is not None:
                reporter.check()
            chunk = torch.as_tensor(points[start : start + chunk_size], dtype=torch.float32, device=device)
            out.append(fn(chunk).float().cpu().numpy())
    if not out:
        return np.zeros((0,), np.float32)
    values = np.concatenate(out)
    return values.reshape(len(points)) if values.ndim == 2 and values.shape[1] == 1 else values


def _upsample(values: np.ndarray) -> np.ndarray:
    """Trilinear ×2 refinement of a point grid: ``(n, n, n)`` -> ``(2n-1, 2n-1, 2n-1)``."""
    for axis in range(3):
        shape = list(values.shape)
        shape[axis] = 2 * shape[axis] - 1
        finer = np.empty(shape, np.float32)
        even = [slice(None)] * 3
        even[axis] = slice(0, None, 2)
        odd = [slice(None)] * 3
        odd[axis] = slice(1, None, 2)
        lo = [slice(None)] * 3
        lo[axis] = slice(0, -1)
        hi = [slice(None)] * 3
        hi[axis] = slice(1, None)
        finer[tuple(even)] = values
        finer[tuple(odd)] = 0.5 * (values[tuple(lo)] + values[tuple(hi)])
        values = finer
    return values


def _near_cells(values: np.ndarray, threshold: float) -> np.ndarray:
    """Cells (n-1, n-1, n-1) bool of a point grid with a corner within ``threshold`` or a sign change."""
    corners = [
        values[a : a + values.shape[0] - 1, b : b + values.shape[1] - 1, c : c + values.shape[2] - 1]
        for a in (0, 1)
        for b in (0, 1)
        for c in (0, 1)
    ]
    lo = np.minimum.reduce(corners)
    hi = np.maximum.reduce(corners)
    return (np.minimum(np.abs(lo), np.abs(hi)) < threshold) | ((lo <= 0) & (hi >= 0))


def sdf_grid(
    sdf_fn: FieldFn,
    config: MeshConfig,
    device: torch.device,
    reporter: Reporter | None = None,
) -> tuple[np.ndarray, int]:
    """Point grid ``(R+1, R+1, R+1)`` float32 of the SDF (R = ``config.resolution``), exact in every cell
    near the surface, coarse-to-fine; and the number of SDF evaluations spent."""
    lo = np.asarray(config.bbox_min, np.float64)
    size = np.asarray(config.bbox_max, np.float64) - lo
    levels = _levels(config)
    values = np.zeros((1, 1, 1), np.float32)
    near = np.ones((1, 1, 1), bool)
    evaluations = 0
    for level, cells in enumerate(levels):
        if level == 0:
            wanted = np.ones((cells + 1,) * 3, bool)
            values = np.zeros((cells + 1,) * 3, np.float32)
        else:
            values = _upsample(values)
            # the corners of every child of a near cell: a near cell (i,j,k) spans points 2i..2i+2
            child = np.repeat(np.repeat(np.repeat(near, 2, 0), 2, 1), 2, 2)
            wanted = np.zeros((cells + 1,) * 3, bool)
            for a in (0, 1):
                for b in (0, 1):
                    for c in (0, 1):
                        wanted[a : a + cells, b : b + cells, c : c + cells] |= child
            # points of the previous level are already exact
            wanted[::2, ::2, ::2] = False
        index = np.argwhere(wanted)
        points = lo + index * (size / cells)
        sdf = evaluate_chunked(sdf_fn, points, config.chunk_size, device, reporter)
        if sdf.shape != (len(points),):
            raise MeshExtractionError(f"sdf_fn must return (N,) or (N, 1) values, got {sdf.shape}")
        if not np.isfinite(sdf).all():
            raise MeshExtractionError("sdf_fn returned NaN or infinite values")
        values[tuple(index.T)] = sdf
        evaluations += len(points)
        if level + 1 < len(levels):
            diagonal = float(np.linalg.norm(size / cells))
            fresh = _near_cells(values, config.refine_margin * diagonal)
            near = fresh if level == 0 else fresh & child
        if reporter is not None:
            reporter.emit(
                Progress("mesh", level + 1, len(levels), message=f"SDF grid {cells}³: {len(points)} points")
            )
    return values, evaluations


def _touches_box(vertices: np.ndarray, config: MeshConfig, spacing: np.ndarray) -> bool:
    lo = vertices.min(axis=0) - np.asarray(config.bbox_min)
    hi = np.asarray(config.bbox_max) - vertices.max(axis=0)
    return bool((np.minimum(lo, hi) < spacing).any())


def largest_component(faces: np.ndarray, num_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """Faces of the connected piece with the most faces, re-indexed, and the kept vertex ids (V',)."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(num_vertices, num_vertices))
    _, labels = connected_components(graph, directed=False)
    face_labels = labels[faces[:, 0]]
    biggest = np.bincount(face_labels).argmax()
    kept_faces = faces[face_labels == biggest]
    kept = np.unique(kept_faces)
    remap = np.full(num_vertices, -1, np.int64)
    remap[kept] = np.arange(len(kept))
    return remap[kept_faces].astype(np.int32), kept


def extract_mesh(
    sdf_fn: FieldFn,
    color_fn: FieldFn | None = None,
    config: MeshConfig | None = None,
    reporter: Reporter | None = None,
    device: torch.device | str | None = None,
) -> ExtractedMesh:
    """The zero level set of ``sdf_fn`` (negative inside) in ``config``'s box, coloured by ``color_fn``.

    ``device``: where the points are sent; default the device of ``sdf_fn``'s module, else the CPU.
    Raises :class:`MeshExtractionError` when the box holds no surface.
    """
    config = config or MeshConfig()
    dev = torch.device(device) if device is not None else _device_of(sdf_fn)
    values, evaluations = sdf_grid(sdf_fn, config, dev, reporter)
    if not (values.min() < 0 < values.max()):
        raise MeshExtractionError(
            f"no surface in the box {config.bbox_min}..{config.bbox_max}: "
            f"SDF ranges over [{values.min():.3g}, {values.max():.3g}]"
        )
    spacing = (np.asarray(config.bbox_max) - np.asarray(config.bbox_min)) / config.resolution
    # "descent" winds the faces counter-clockwise seen from the positive side: from outside for an SDF
    verts, faces, _, _ = marching_cubes(
        values, level=0.0, spacing=tuple(spacing), gradient_direction="descent"
    )
    verts = (verts + np.asarray(config.bbox_min)).astype(np.float32)
    faces = faces.astype(np.int32)
    if config.keep_largest_component:  # (a stray blob elsewhere in the box, e.g. outside the scene, goes)
        faces, kept = largest_component(faces, len(verts))
        verts = verts[kept]
    if reporter is not None and _touches_box(verts, config, spacing):
        reporter.log("mesh", "the surface reaches the edge of the box and is cut open there; widen mesh.bbox")
    if color_fn is None:
        colors = np.full((len(verts), 3), 0.7, np.float32)
    else:
        colors = evaluate_chunked(color_fn, verts, config.chunk_size, dev, reporter)
        if colors.shape != (len(verts), 3):
            raise MeshExtractionError(f"color_fn must return (N, 3) colours, got {colors.shape}")
        colors = np.clip(np.nan_to_num(colors, nan=0.5), 0.0, 1.0).astype(np.float32)
    if reporter is not None:
        reporter.emit(MeshSnapshot("mesh", len(_levels(config)), verts, faces, colors))
    return ExtractedMesh(vertices=verts, faces=faces, colors=colors, evaluations=evaluations)
