"""GLB export: passes the Khronos validator, reads back in pygltflib and trimesh, animates like our LBS."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pygltflib
import pytest
import trimesh

from avatarclip_studio.avatar.skinning import joint_transforms, make_skinned_avatar
from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.model import load_body_model
from avatarclip_studio.body.skeleton import JOINT_NAMES
from avatarclip_studio.export.gltf import glb_bytes, top_influences, write_glb
from avatarclip_studio.export.uv_bake import atlas_size, bake_texture
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.utils.rotations import quat_to_matrix_np

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "tests" / "tools" / "validate_gltf.mjs"
VALIDATOR_PACKAGES = (
    ROOT / "node_modules" / "gltf-validator",
    ROOT / ".cache" / "npm" / "node_modules" / "gltf-validator",
)


@pytest.fixture(scope="module")
def avatar():
    body = load_body_model(BodyConfig())
    rest = body.rest(None)[0][0].numpy()
    colors = (rest - rest.min(0)) / np.ptp(rest, axis=0)
    return make_skinned_avatar(rest, body.faces.numpy(), colors, body, np.zeros(body.num_betas, np.float32))


@pytest.fixture(scope="module")
def patch(avatar):
    """A 2,000-triangle piece of the avatar (the texture tests' size)."""
    faces = avatar.faces[:2000]
    used, compact = np.unique(faces, return_inverse=True)
    return replace(
        avatar,
        vertices=avatar.vertices[used],
        faces=compact.reshape(-1, 3).astype(np.int32),
        colors=avatar.colors[used],
        skin_weights=avatar.skin_weights[used],
    )


@pytest.fixture(scope="module")
def motion():
    rng = np.random.default_rng(1)
    poses = rng.normal(0, 0.4, (12, 24, 3)).astype(np.float32)
    trans = np.cumsum(rng.normal(0, 0.05, (12, 3)), axis=0).astype(np.float32)
    return MotionClip(poses, trans, fps=24.0, name="wave")


def validate(path: Path) -> dict:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the Khronos glTF validator cannot run")
    if not any(p.is_dir() for p in VALIDATOR_PACKAGES):
        pytest.skip("gltf-validator missing: run `npm install` at the repository root")
    done = subprocess.run(["node", str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def read_accessor(gltf: pygltflib.GLTF2, index: int) -> np.ndarray:
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    dtype = {
        pygltflib.FLOAT: np.float32,
        pygltflib.UNSIGNED_BYTE: np.uint8,
        pygltflib.UNSIGNED_SHORT: np.uint16,
        pygltflib.UNSIGNED_INT: np.uint32,
    }[acc.componentType]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc.type]
    data = gltf.binary_blob()[view.byteOffset + (acc.byteOffset or 0) :]
    return np.frombuffer(data, dtype, count=acc.count * width).reshape(acc.count, width)


@pytest.mark.parametrize("textured", [False, True])
def test_glb_passes_the_khronos_validator_with_no_issues(tmp_path, avatar, patch, motion, textured):
    subject = bake_texture(patch, 256) if textured else avatar
    path = write_glb(tmp_path / "avatar.glb", subject, motion)
    report = validate(path)
    issues = report["issues"]
    assert issues["numErrors"] == 0, issues["messages"][:5]
    assert issues["numWarnings"] == 0, issues["messages"][:5]
    info = report["info"]
    assert info["hasSkins"] and info["animationCount"] == 1 and info["maxInfluences"] == 4
    assert info["hasTextures"] == textured


def test_glb_reads_back_with_skeleton_skin_and_animation(tmp_path, avatar, motion):
    path = write_glb(tmp_path / "a.glb", avatar, motion)
    gltf = pygltflib.GLTF2().load(str(path))
    skin = gltf.skins[0]
    assert len(skin.joints) == 24
    assert [gltf.nodes[j].name for j in skin.joints] == list(JOINT_NAMES)
    ibm = read_accessor(gltf, skin.inverseBindMatrices).reshape(24, 4, 4).transpose(0, 2, 1)
    np.testing.assert_allclose(ibm[:, :3, 3], -avatar.joints, atol=1e-6)
    times = read_accessor(gltf, gltf.animations[0].samplers[0].input)[:, 0]
    assert times[-1] == pytest.approx(motion.num_frames / motion.fps)  # = MotionClip.duration
    prim = gltf.meshes[0].primitives[0]
    weights = read_accessor(gltf, prim.attributes.WEIGHTS_0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    assert read_accessor(gltf, prim.attributes.JOINTS_0).dtype == np.uint8
    scene = trimesh.load(path, force="scene")
    geometry = next(iter(scene.geometry.values()))
    assert len(geometry.vertices) == len(avatar.vertices) and len(geometry.faces) == len(avatar.faces)


def test_animated_joint_matrices_equal_our_skinning_transforms(tmp_path, avatar, motion):
    gltf = pygltflib.GLTF2().load(str(write_glb(tmp_path / "a.glb", avatar, motion)))
    anim = gltf.animations[0]
    tracks = {}
    for channel in anim.channels:
        tracks[(channel.target.node, channel.target.path)] = read_accessor(
            gltf, anim.samplers[channel.sampler].output
        )
    ibm = read_accessor(gltf, gltf.skins[0].inverseBindMatrices).reshape(24, 4, 4).transpose(0, 2, 1)
    expected = joint_transforms(avatar.joints, motion.poses, motion.trans).numpy()
    parents = {c: p for p, node in enumerate(gltf.nodes) for c in node.children}
    for frame in (0, 5, 11):
        world = np.zeros((24, 4, 4))
        for j in range(24):  # parents come first in SMPL order
            local = np.eye(4)
            local[:3, :3] = quat_to_matrix_np(tracks[(j, "rotation")][frame][[3, 0, 1, 2]])
            track = tracks.get((j, "translation"))
            local[:3, 3] = track[frame] if track is not None else gltf.nodes[j].translation
            world[j] = world[parents[j]] @ local if j in parents else local
        np.testing.assert_allclose(world @ ibm, expected[frame], atol=2e-5)


def test_top_influences_keep_four_normalised_weights():
    rng = np.random.default_rng(0)
    weights = rng.random((100, 24)) ** 8
    weights[0] = 0
    weights[0, 5] = 1.0
    joints, kept = top_influences(weights / weights.sum(1, keepdims=True))
    assert joints.shape == kept.shape == (100, 4) and joints.dtype == np.uint8
    np.testing.assert_allclose(kept.sum(axis=1), 1.0, atol=1e-6)
    assert joints[0, 0] == 5 and (kept[0, 1:] == 0).all() and (joints[0, 1:] == 0).all()
    assert (joints[1:, 0] == weights[1:].argmax(1)).all()


def test_baked_texture_reproduces_the_vertex_colours(patch):
    avatar = patch
    baked = bake_texture(avatar, 256)
    h, w, _ = baked.texture.shape
    assert baked.uvs is not None and baked.uvs.min() >= 0 and baked.uvs.max() <= 1
    texel = np.clip((baked.uvs * [w, h]).astype(int), 0, [w - 1, h - 1])
    sampled = baked.texture[texel[:, 1], texel[:, 0]] / 255.0
    assert np.abs(sampled - baked.colors).max() < 0.03
    assert len(baked.vertices) == 3 * len(avatar.faces)
    np.testing.assert_array_equal(baked.vertices[baked.faces], avatar.vertices[avatar.faces])


def test_a_texture_too_small_for_the_triangles_grows():
    assert atlas_size(27420, 64) == 1024  # 118 cells a side, 6 texels each
    assert atlas_size(100, 1024) == 1024
    with pytest.raises(ValueError, match="simplify"):
        atlas_size(10_000_000, 1024)


def test_static_glb_without_motion(avatar):
    gltf = pygltflib.GLTF2.load_from_bytes(glb_bytes(avatar))
    assert not gltf.animations and len(gltf.skins) == 1
    assert gltf.meshes[0].primitives[0].attributes.COLOR_0 is not None
