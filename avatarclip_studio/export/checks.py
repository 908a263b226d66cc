"""Checks run before anything is written: a clear error instead of a broken file or a deep traceback."""

from __future__ import annotations

import numpy as np

from avatarclip_studio.motion.clip import MotionClip


class ExportError(ValueError):
    """Input that cannot be exported; the message names the file or object and the problem."""


def check_mesh(
    vertices: np.ndarray,
    faces: np.ndarray,
    what: str = "mesh",
    max_vertices: int = 5_000_000,
    require_manifold: bool = True,
) -> None:
    """Raise :class:`ExportError` for an empty, non-finite, mis-indexed, oversized or non-manifold mesh.

    ``vertices (V, 3)``, ``faces (F, 3)``. Non-manifold: an edge shared by more than two faces (a
    marching-cubes surface never has one; skinning and normals go wrong around it).
    """
    vertices = np.asarray(vertices)
    faces = np.asarray(faces)
    if vertices.ndim != 2 or vertices.shape[1:] != (3,) or len(vertices) == 0:
        raise ExportError(f"{what}: no vertices (shape {vertices.shape}); was the surface extracted?")
    if faces.ndim != 2 or faces.shape[1:] != (3,) or len(faces) == 0:
        raise ExportError(f"{what}: no triangles (faces shape {faces.shape})")
    if len(vertices) > max_vertices:
        raise ExportError(
            f"{what}: {len(vertices):,} vertices is more than the {max_vertices:,} allowed; "
            "extract at a lower resolution or raise export.max_vertices"
        )
    if not np.isfinite(vertices).all():
        raise ExportError(f"{what}: vertices contain NaN or infinite values")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise ExportError(f"{what}: faces index vertices outside 0..{len(vertices) - 1}")
    if require_manifold:
        edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
        _, counts = np.unique(edges, axis=0, return_counts=True)
        shared = int((counts > 2).sum())
        if shared:
            raise ExportError(f"{what}: non-manifold, {shared} edges are shared by more than two triangles")


def check_motion(motion: MotionClip, what: str = "motion", max_frames: int = 100_000) -> None:
    """Raise :class:`ExportError` for a motion too long to hold in memory once posed."""
    if motion.num_frames > max_frames:
        raise ExportError(
            f"{what}: {motion.num_frames:,} frames is more than the {max_frames:,} allowed "
            f"({motion.duration:.0f} s at {motion.fps:g} fps); trim or resample it"
        )
