"""Shared fixtures of the OpenGL tests: one offscreen renderer per module and a body-like test mesh."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import trimesh

from avatarclip_studio.render.offscreen import OffscreenRenderer, RenderUnavailable, save_png

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def _part(mesh: trimesh.Trimesh, at: tuple[float, float, float]) -> trimesh.Trimesh:
    mesh.apply_translation(at)
    return mesh


def body_like_mesh() -> tuple[np.ndarray, np.ndarray]:
    """A 1.7 m stick figure standing on y = 0, facing +z: ``vertices (V, 3)`` float32, ``faces (F, 3)``."""
    y_up = trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0])
    parts = [
        _part(trimesh.creation.icosphere(subdivisions=3, radius=0.12), (0.0, 1.55, 0.0)),
        _part(
            trimesh.creation.capsule(height=0.45, radius=0.16, count=[24, 24]).apply_transform(y_up),
            (0, 1.15, 0),
        ),
    ]
    for side in (-1, 1):
        leg = trimesh.creation.capsule(height=0.7, radius=0.07, count=[16, 16]).apply_transform(y_up)
        arm = trimesh.creation.capsule(height=0.55, radius=0.05, count=[16, 16]).apply_transform(y_up)
        parts += [_part(leg, (0.1 * side, 0.42, 0.0)), _part(arm, (0.28 * side, 1.05, 0.0))]
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    vertices = np.concatenate([p.vertices for p in parts]).astype(np.float32)
    faces = np.concatenate([p.faces + o for p, o in zip(parts, offsets, strict=True)]).astype(np.int32)
    return vertices, faces


@pytest.fixture(scope="module")
def body() -> tuple[np.ndarray, np.ndarray]:
    return body_like_mesh()


@pytest.fixture(scope="module")
def gl() -> Iterator[OffscreenRenderer]:
    """A 96 × 96 renderer, or a skip where this machine has no OpenGL."""
    try:
        renderer = OffscreenRenderer(96, 96)
    except RenderUnavailable as exc:
        pytest.skip(f"no OpenGL context: {exc}")
    with renderer:
        yield renderer


def assert_images_close(actual: np.ndarray, reference: np.ndarray, name: str, tolerance: float = 2.0) -> None:
    """Mean absolute difference ≤ ``tolerance`` (0–255 scale); on failure the actual image and the diff
    go to ``artifacts/<name>-actual.png`` / ``-diff.png``."""
    assert actual.shape == reference.shape, f"{name}: shape {actual.shape} vs reference {reference.shape}"
    diff = np.abs(actual.astype(np.int16) - reference.astype(np.int16)).astype(np.uint8)
    error = float(diff.mean())
    if error > tolerance:
        save_png(actual, ARTIFACTS / f"{name}-actual.png")
        save_png(np.clip(diff.astype(np.int16) * 4, 0, 255).astype(np.uint8), ARTIFACTS / f"{name}-diff.png")
    assert error <= tolerance, f"{name}: mean abs difference {error:.2f} > {tolerance} (diff in {ARTIFACTS})"
