"""Coloured meshes as ``.ply`` (binary, uint8 vertex colours) or ``.obj`` (``v x y z r g b``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from avatarclip_studio.export.checks import ExportError, check_mesh
from avatarclip_studio.utils.atomic import atomic_write_bytes

MESH_SUFFIXES = (".ply", ".obj")


def mesh_bytes(vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None, suffix: str) -> bytes:
    """The file content of a ``.ply`` / ``.obj``; ``colors (V, 3)`` float in [0, 1] or None."""
    if suffix not in MESH_SUFFIXES:
        raise ExportError(f"unknown mesh format {suffix!r} (known: {', '.join(MESH_SUFFIXES)})")
    mesh = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces, np.int64), process=False)
    if colors is not None:
        rgb = np.clip(np.round(np.asarray(colors, np.float64) * 255), 0, 255).astype(np.uint8)
        mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=rgb)
    if suffix == ".ply":
        data = trimesh.exchange.ply.export_ply(mesh, encoding="binary", vertex_normal=False)
    else:
        text = trimesh.exchange.obj.export_obj(mesh, include_color=colors is not None, include_normals=False)
        data = text.encode("utf-8")
    return data if isinstance(data, bytes) else str(data).encode("utf-8")


def write_mesh(
    path: str | Path,
    vertices: np.ndarray,
    faces: np.ndarray,
    colors: np.ndarray | None = None,
) -> Path:
    """Write a coloured mesh (format by suffix) atomically. ``vertices (V, 3)``, ``faces (F, 3)``."""
    path = Path(path)
    check_mesh(vertices, faces, what=str(path), require_manifold=False)
    atomic_write_bytes(path, mesh_bytes(vertices, faces, colors, path.suffix.lower()))
    return path


def read_mesh(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``vertices (V, 3)`` float32, ``faces (F, 3)`` int32 and ``colors (V, 3)`` float32 or None of a
    ``.ply`` / ``.obj``; :class:`ExportError` naming the file when it is not a readable triangle mesh."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such mesh file")
    try:
        mesh = trimesh.load(path, process=False, force="mesh")
    except Exception as exc:  # trimesh raises many types for a damaged file
        raise ExportError(f"{path}: not a readable mesh ({type(exc).__name__}: {exc})") from exc
    if not isinstance(mesh, trimesh.Trimesh):
        raise ExportError(f"{path}: holds no triangle mesh")
    colors = None
    visual = mesh.visual
    if isinstance(visual, trimesh.visual.ColorVisuals) and visual.kind == "vertex":
        colors = np.asarray(visual.vertex_colors)[:, :3].astype(np.float32) / 255.0
    return np.asarray(mesh.vertices, np.float32), np.asarray(mesh.faces, np.int32), colors
