"""Mesh arrays for the GPU: validation and smooth vertex normals (numpy)."""

from __future__ import annotations

import numpy as np
import scipy.sparse


class MeshInputError(ValueError):
    """Mesh arrays with the wrong shape, type or indices; the message names the array."""


def check_mesh(vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None) -> None:
    """Raise :class:`MeshInputError` unless ``vertices (..., V, 3)``, ``faces (F, 3)`` and ``colors
    (..., V, 3)`` fit together."""
    if vertices.ndim < 2 or vertices.shape[-1] != 3 or vertices.shape[-2] == 0:
        raise MeshInputError(f"mesh vertices must be (V, 3) with V > 0, got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise MeshInputError(f"mesh faces must be (F, 3) with F > 0, got {faces.shape}")
    if not np.issubdtype(faces.dtype, np.integer):
        raise MeshInputError(f"mesh faces must be integers, got {faces.dtype}")
    if faces.min() < 0 or faces.max() >= vertices.shape[-2]:
        raise MeshInputError(f"mesh faces index vertices outside 0..{vertices.shape[-2] - 1}")
    if not np.isfinite(vertices).all():
        raise MeshInputError("mesh vertices contain NaN or infinity")
    if colors is not None and colors.shape[-2:] != vertices.shape[-2:]:
        raise MeshInputError(f"mesh colours must be {vertices.shape[-2:]} per mesh, got {colors.shape}")


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.cross`` over the last axis (3,), written out: about 10× faster on large arrays."""
    x = a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]
    y = a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2]
    z = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return np.stack([x, y, z], axis=-1)


class NormalSolver:
    """Area-weighted smooth vertex normals for a fixed face list (the incidence matrix is built once).

    ``solver(vertices (..., V, 3)) -> normals (..., V, 3)`` float32, unit length (zero-area spots: +y).
    """

    def __init__(self, faces: np.ndarray, num_vertices: int) -> None:
        self.faces = np.asarray(faces, np.int64)
        rows = self.faces.reshape(-1)
        cols = np.repeat(np.arange(len(self.faces)), 3)
        self._incidence = scipy.sparse.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(num_vertices, len(self.faces))
        )

    def __call__(self, vertices: np.ndarray) -> np.ndarray:
        v = np.asarray(vertices, np.float32)
        lead = v.shape[:-2]
        v = v.reshape(-1, *v.shape[-2:])
        tri = v[:, self.faces]  # (B, F, 3, 3)
        face_n = _cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0])  # (B, F, 3), |n| = 2·area
        # (V, F) @ (F, B·3) sums the normals of the faces around each vertex for the whole batch at once
        summed = self._incidence @ face_n.transpose(1, 0, 2).reshape(len(self.faces), -1)
        normals = summed.reshape(v.shape[1], len(v), 3).transpose(1, 0, 2)
        length = np.sqrt(np.einsum("bvc,bvc->bv", normals, normals))[..., None]
        normals = np.where(
            length > 1e-12, normals / np.maximum(length, 1e-12), np.array([0.0, 1.0, 0.0], np.float32)
        )
        return normals.astype(np.float32, copy=False).reshape(*lead, *normals.shape[1:])


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Smooth normals (..., V, 3) of ``vertices (..., V, 3)``; see :class:`NormalSolver` for many calls."""
    return NormalSolver(faces, vertices.shape[-2])(vertices)
