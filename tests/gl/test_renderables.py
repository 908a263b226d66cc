"""Renderables through the SceneRenderer: GPU skinning against CPU skinning, overlays, updates, textures."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import trimesh

from avatarclip_studio.avatar.skinning import skin
from avatarclip_studio.render.camera import orbit_camera
from avatarclip_studio.render.geometry import MeshInputError
from avatarclip_studio.render.offscreen import OffscreenRenderer
from avatarclip_studio.render.renderables import (
    AxesRenderable,
    GridRenderable,
    MeshRenderable,
    SkeletonRenderable,
    SkinnedMeshRenderable,
)
from avatarclip_studio.render.settings import RenderSettings

CAMERA = orbit_camera(0.0, 0.0, 2.0, target=(0.0, 0.5, 0.0))
PLAIN = RenderSettings(mode="gray", show_grid=False, background=(0.0, 0.0, 0.0))
BONES = RenderSettings(show_skeleton=True, show_grid=False, background=(0.0, 0.0, 0.0))
PARENTS = (-1, *range(23))  # a chain is enough: only joints 0 and 1 carry weight here


def _arm() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A vertical bar 0..1 m with a joint at y = 0.5: weights blend from joint 0 (bottom) to 1 (top)."""
    bar = trimesh.creation.box(extents=(0.1, 1.0, 0.1))
    bar = trimesh.remesh.subdivide_to_size(bar.vertices, bar.faces, max_edge=0.05)
    vertices = np.asarray(bar[0], np.float32) + np.array([0.0, 0.5, 0.0], np.float32)
    upper = np.clip((vertices[:, 1] - 0.4) / 0.2, 0.0, 1.0)
    weights = np.zeros((len(vertices), 24), np.float32)
    weights[:, 0], weights[:, 1] = 1.0 - upper, upper
    return vertices, np.asarray(bar[1], np.int32), weights


def _bend(angle: float) -> np.ndarray:
    """Skinning transforms (24, 4, 4): joint 1 (at y = 0.5) rotated by ``angle`` about z."""
    transforms = np.tile(np.eye(4, dtype=np.float32), (24, 1, 1))
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], np.float32)
    pivot = np.array([0.0, 0.5, 0.0], np.float32)
    transforms[1:, :3, :3] = rot
    transforms[1:, :3, 3] = pivot - rot @ pivot
    return transforms


def test_gpu_skinning_matches_cpu_skinning(gl: OffscreenRenderer) -> None:
    vertices, faces, weights = _arm()
    skinned = SkinnedMeshRenderable(vertices, faces, None, weights)
    rest = gl.render_scene(CAMERA, [skinned], PLAIN)
    skinned.set_pose(_bend(np.pi / 2))
    bent = gl.render_scene(CAMERA, [skinned], PLAIN)
    cpu = skin(vertices, weights, torch.from_numpy(_bend(np.pi / 2))[None])[0]
    reference = MeshRenderable(cpu, faces)
    expected = gl.render_scene(CAMERA, [reference], PLAIN)
    moved = (rest.sum(axis=2) > 0) != (bent.sum(axis=2) > 0)
    assert moved.mean() > 0.012  # the upper half (≈ 85 px) swung to the side: ≈ 170 px changed
    lit = bent.sum(axis=2) > 30
    assert lit[46:50, 28:44].all()  # ... to −x (left in the image, joint at row 48): rotation about +z
    assert not lit[20:40, 40:56].any()  # where the upper half stood before
    silhouette_diff = (bent.sum(axis=2) > 30) != (expected.sum(axis=2) > 30)
    assert silhouette_diff.mean() < 0.005
    assert np.abs(bent.astype(int) - expected).mean() < 2.0
    for item in (skinned, reference):
        item.release()


def test_mesh_update_reuses_buffers_and_reallocates_on_resize(gl: OffscreenRenderer) -> None:
    vertices, faces, _ = _arm()
    mesh = MeshRenderable(vertices, faces)
    gl.make_current()
    mesh.create(gl.ctx)
    buffer, vao = mesh._buffers.buffers["in_position"], mesh.vao
    mesh.update(vertices + np.array([0.3, 0.0, 0.0], np.float32))
    assert mesh._buffers.buffers["in_position"] is buffer and mesh.vao is vao
    moved = gl.render_scene(CAMERA, [mesh], PLAIN)
    cols = np.nonzero(moved.sum(axis=(0, 2)))[0]
    assert cols.mean() > 48 + 5  # the bar moved right with its vertices
    mesh.update(vertices[: len(vertices) // 2], faces[faces.max(axis=1) < len(vertices) // 2])
    assert mesh._buffers.buffers["in_position"] is not buffer
    assert gl.render_scene(CAMERA, [mesh], PLAIN).any()
    mesh.release()
    assert mesh.ctx is None and mesh.vao is None


def test_grid_skeleton_and_axes_follow_the_settings(gl: OffscreenRenderer) -> None:
    grid, axes = GridRenderable(), AxesRenderable()
    joints = np.stack([np.zeros(24), np.linspace(0.0, 1.0, 24), np.zeros(24)], axis=1).astype(np.float32)
    skeleton = SkeletonRenderable(joints, PARENTS)
    above = orbit_camera(20.0, 30.0, 3.0, target=(0.0, 0.5, 0.0))
    bare = gl.render_scene(above, [grid, skeleton], PLAIN)
    with_grid = gl.render_scene(above, [grid, skeleton], replace(PLAIN, show_grid=True))
    assert not bare.any() and (with_grid.sum(axis=2) > 0).mean() > 0.05
    bones = gl.render_scene(above, [skeleton], BONES)
    lit = bones.sum(axis=2) > 0
    assert lit.any() and bones[lit][:, 0].mean() > bones[lit][:, 2].mean() + 100  # orange bones
    skeleton.update(joints + np.array([0.5, 0.0, 0.0], np.float32))
    shifted = gl.render_scene(above, [skeleton], BONES)
    assert np.nonzero(shifted.sum(axis=(0, 2)))[0].mean() > np.nonzero(lit.sum(axis=0))[0].mean() + 5
    rgb = gl.render_scene(orbit_camera(30.0, 30.0, 2.0), [axes], PLAIN).reshape(-1, 3).astype(int)
    for channel in range(3):  # each axis colour appears
        assert ((rgb[:, channel] > 150) & (rgb.sum(axis=1) - rgb[:, channel] < 60)).any()
    for item in (grid, skeleton, axes):
        item.release()
    with pytest.raises(MeshInputError, match="skeleton joints"):
        SkeletonRenderable(joints[:5], PARENTS)


def test_texture_is_sampled_with_gltf_uvs(gl: OffscreenRenderer) -> None:
    quad = np.array([[-0.5, 0.0, 0.0], [0.5, 0.0, 0.0], [0.5, 1.0, 0.0], [-0.5, 1.0, 0.0]], np.float32)
    faces = np.array([[0, 1, 2], [0, 2, 3]], np.int32)
    uvs = np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32)  # glTF: v = 0 is the image's top row
    texture = np.zeros((2, 2, 3), np.uint8)
    texture[0] = (255, 0, 0)  # top row red
    texture[1] = (0, 0, 255)  # bottom row blue
    mesh = MeshRenderable(quad, faces, uvs=uvs, texture=texture)
    lit = RenderSettings(mode="textured", show_grid=False, ambient=1.0, background=(0, 0, 0))
    image = gl.render_scene(CAMERA, [mesh], lit).astype(int)
    assert image[30, 48, 0] > 200 and image[30, 48, 2] < 60  # upper part red
    assert image[66, 48, 2] > 200 and image[66, 48, 0] < 60  # lower part blue
    mesh.set_texture(None, None)
    grey = gl.render_scene(CAMERA, [mesh], lit)
    assert abs(int(grey[48, 48, 0]) - int(grey[48, 48, 2])) < 10
    mesh.release()
    with pytest.raises(MeshInputError, match="both uvs"):
        MeshRenderable(quad, faces, uvs=uvs)
