"""glTF 2.0 binary (``.glb``) of a skinned avatar and, optionally, its animation.

Layout: one scene with the 24 SMPL joints as a node tree (named as SMPL names them, rest translations
relative to the parent) and a skinned mesh node at the root (the spec wants a skinned mesh untransformed).
The mesh carries normals and either vertex colours (COLOR_0) or, when the avatar has UVs and a texture,
that texture as baseColorTexture — not both, since glTF multiplies them. The skin binds at most 4 joints
per vertex (the largest weights, renormalised). The animation holds each joint's local rotation and the
root's translation per frame, LINEAR, so it plays in Blender, three.js and game engines as it does here.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pygltflib as g
import torch
from PIL import Image

from avatarclip_studio.avatar.skinned import SkinnedAvatar
from avatarclip_studio.body.skeleton import JOINT_NAMES
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.utils.atomic import atomic_write_bytes
from avatarclip_studio.utils.rotations import axis_angle_to_matrix_np, matrix_to_quat

MAX_INFLUENCES = 4


class _Builder:
    """Accumulates accessors in one binary buffer, each in its own 4-byte aligned buffer view."""

    def __init__(self) -> None:
        self.gltf = g.GLTF2(asset=g.Asset(version="2.0", generator="AvatarCLIP Studio"))
        self.blob = bytearray()

    def view(self, data: bytes, target: int | None = None) -> int:
        self.blob.extend(b"\0" * (-len(self.blob) % 4))
        self.gltf.bufferViews.append(
            g.BufferView(buffer=0, byteOffset=len(self.blob), byteLength=len(data), target=target)
        )
        self.blob.extend(data)
        return len(self.gltf.bufferViews) - 1

    def accessor(
        self,
        array: np.ndarray,
        kind: str,
        target: int | None = None,
        normalized: bool = False,
        bounds: bool = False,
    ) -> int:
        """``array`` (N,) or (N, C) as an accessor of type ``kind`` (SCALAR, VEC3, MAT4 ...)."""
        component = {
            np.dtype(np.float32): g.FLOAT,
            np.dtype(np.uint8): g.UNSIGNED_BYTE,
            np.dtype(np.uint16): g.UNSIGNED_SHORT,
            np.dtype(np.uint32): g.UNSIGNED_INT,
        }[array.dtype]
        flat = array.reshape(len(array), -1)
        acc = g.Accessor(
            bufferView=self.view(np.ascontiguousarray(array).tobytes(), target),
            componentType=component,
            count=len(array),
            type=kind,
            normalized=normalized or None,
        )
        if bounds:
            acc.min = flat.min(axis=0).tolist()
            acc.max = flat.max(axis=0).tolist()
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1

    def glb(self) -> bytes:
        self.blob.extend(b"\0" * (-len(self.blob) % 4))
        self.gltf.buffers.append(g.Buffer(byteLength=len(self.blob)))
        self.gltf.set_binary_blob(bytes(self.blob))
        return b"".join(self.gltf.save_to_bytes())


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit normals (V, 3) float32, smooth across UV seams (vertices at the same position
    share one normal); an isolated vertex gets +y."""
    _, same, inverse = np.unique(vertices, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    tri = vertices[faces].astype(np.float64)
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    welded = np.zeros((len(same), 3), np.float64)
    for k in range(3):
        np.add.at(welded, inverse[faces[:, k]], face_n)
    normals = welded[inverse]
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.where(length > 1e-20, normals / np.maximum(length, 1e-20), [0.0, 1.0, 0.0])
    return normals.astype(np.float32)


def top_influences(weights: np.ndarray, count: int = MAX_INFLUENCES) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` largest weights per vertex: joints (V, count) uint8 and weights (V, count) float32
    summing to 1 (to float32 rounding). Unused slots: joint 0, weight 0."""
    order = np.argsort(-weights, axis=1)[:, :count]
    kept = np.take_along_axis(weights, order, axis=1).astype(np.float64)
    kept = np.where(kept > 1e-6, kept, 0.0)
    kept = (kept / kept.sum(axis=1, keepdims=True)).astype(np.float32)
    joints = np.where(kept > 0, order, 0).astype(np.uint8)
    return joints, kept


def _local_quaternions(poses: np.ndarray) -> np.ndarray:
    """(T, J, 3) axis-angle -> (T, J, 4) unit quaternions x, y, z, w, sign-continuous over time."""
    mats = axis_angle_to_matrix_np(poses.astype(np.float32))
    wxyz = matrix_to_quat(torch.as_tensor(mats, dtype=torch.float64)).numpy()
    xyzw = np.concatenate([wxyz[..., 1:], wxyz[..., :1]], axis=-1)
    xyzw /= np.linalg.norm(xyzw, axis=-1, keepdims=True)
    # LINEAR interpolates the shorter way only when consecutive keys lie in the same hemisphere
    for t in range(1, len(xyzw)):
        flip = (xyzw[t] * xyzw[t - 1]).sum(-1) < 0
        xyzw[t, flip] *= -1
    return xyzw.astype(np.float32)


def _add_material(b: _Builder, avatar: SkinnedAvatar) -> int:
    pbr = g.PbrMetallicRoughness(
        baseColorFactor=[1.0, 1.0, 1.0, 1.0], metallicFactor=0.0, roughnessFactor=0.9
    )
    if avatar.texture is not None:
        png = io.BytesIO()
        Image.fromarray(np.asarray(avatar.texture, np.uint8)).save(png, format="PNG")
        b.gltf.images.append(g.Image(bufferView=b.view(png.getvalue()), mimeType="image/png", name="albedo"))
        b.gltf.samplers.append(
            g.Sampler(magFilter=g.LINEAR, minFilter=g.LINEAR, wrapS=g.CLAMP_TO_EDGE, wrapT=g.CLAMP_TO_EDGE)
        )
        b.gltf.textures.append(g.Texture(source=0, sampler=0))
        pbr.baseColorTexture = g.TextureInfo(index=0)
    b.gltf.materials.append(g.Material(name="avatar", pbrMetallicRoughness=pbr, doubleSided=False))
    return 0


def _add_mesh(b: _Builder, avatar: SkinnedAvatar) -> int:
    v = avatar.vertices.astype(np.float32)
    attrs = g.Attributes(
        POSITION=b.accessor(v, "VEC3", g.ARRAY_BUFFER, bounds=True),
        NORMAL=b.accessor(vertex_normals(v, avatar.faces), "VEC3", g.ARRAY_BUFFER),
    )
    textured = avatar.uvs is not None and avatar.texture is not None
    if textured:
        assert avatar.uvs is not None  # for the type checker
        attrs.TEXCOORD_0 = b.accessor(avatar.uvs.astype(np.float32), "VEC2", g.ARRAY_BUFFER)
    else:
        attrs.COLOR_0 = b.accessor(np.clip(avatar.colors, 0, 1).astype(np.float32), "VEC3", g.ARRAY_BUFFER)
    joints, weights = top_influences(avatar.skin_weights)
    attrs.JOINTS_0 = b.accessor(joints, "VEC4", g.ARRAY_BUFFER)
    attrs.WEIGHTS_0 = b.accessor(weights, "VEC4", g.ARRAY_BUFFER)
    index_type = np.uint16 if len(v) < 65535 else np.uint32
    indices = b.accessor(avatar.faces.reshape(-1).astype(index_type), "SCALAR", g.ELEMENT_ARRAY_BUFFER)
    primitive = g.Primitive(
        attributes=attrs, indices=indices, material=_add_material(b, avatar), mode=g.TRIANGLES
    )
    b.gltf.meshes.append(g.Mesh(name="avatar", primitives=[primitive]))
    return 0


def _add_skeleton(b: _Builder, avatar: SkinnedAvatar) -> list[int]:
    """Joint nodes 0..J-1 (node index = joint index), and the skin."""
    joints = avatar.joints.astype(np.float64)
    for j, parent in enumerate(avatar.parents):
        offset = joints[j] - (joints[parent] if parent >= 0 else 0.0)
        b.gltf.nodes.append(g.Node(name=JOINT_NAMES[j], translation=offset.tolist()))
    for j, parent in enumerate(avatar.parents):
        if parent >= 0:
            b.gltf.nodes[parent].children.append(j)
    # the inverse of each joint's rest world transform (a pure translation), column-major
    inverse_bind = np.tile(np.eye(4, dtype=np.float32), (len(joints), 1, 1))
    inverse_bind[:, :3, 3] = -joints
    ibm = b.accessor(np.ascontiguousarray(inverse_bind.transpose(0, 2, 1)).reshape(-1, 16), "MAT4")
    roots = [j for j, p in enumerate(avatar.parents) if p < 0]
    b.gltf.skins.append(
        g.Skin(name="smpl", joints=list(range(len(joints))), inverseBindMatrices=ibm, skeleton=roots[0])
    )
    return roots


def _add_animation(b: _Builder, avatar: SkinnedAvatar, motion: MotionClip) -> None:
    # one key per frame, and the last frame again one period later: each frame shows for 1/fps and the
    # clip lasts frames / fps, like the MotionClip and its video (and loops without skipping a frame)
    keys = np.append(np.arange(motion.num_frames), motion.num_frames - 1)
    times = (np.arange(motion.num_frames + 1, dtype=np.float64) / motion.fps).astype(np.float32)
    time_acc = b.accessor(times, "SCALAR", bounds=True)
    quats = _local_quaternions(motion.poses)[keys]
    trans = motion.trans[keys]
    samplers: list[g.AnimationSampler] = []
    channels: list[g.AnimationChannel] = []

    def channel(node: int, path: str, values: np.ndarray, kind: str) -> None:
        samplers.append(
            g.AnimationSampler(input=time_acc, output=b.accessor(values, kind), interpolation="LINEAR")
        )
        channels.append(
            g.AnimationChannel(
                sampler=len(samplers) - 1, target=g.AnimationChannelTarget(node=node, path=path)
            )
        )

    for j in range(len(avatar.parents)):
        channel(j, "rotation", np.ascontiguousarray(quats[:, j]), "VEC4")
    for root in (j for j, p in enumerate(avatar.parents) if p < 0):
        # SMPL rotates the body about the root joint, then shifts it by trans
        channel(root, "translation", (avatar.joints[root] + trans).astype(np.float32), "VEC3")
    b.gltf.animations.append(g.Animation(name=motion.name or "motion", samplers=samplers, channels=channels))


def glb_bytes(avatar: SkinnedAvatar, motion: MotionClip | None = None) -> bytes:
    """The ``.glb`` file of ``avatar`` and, if given, ``motion`` (24-joint SMPL clip) as an animation."""
    if len(avatar.parents) != len(JOINT_NAMES):
        raise ValueError(
            f"glTF export needs the {len(JOINT_NAMES)}-joint SMPL skeleton, got {len(avatar.parents)}"
        )
    b = _Builder()
    roots = _add_skeleton(b, avatar)
    mesh = _add_mesh(b, avatar)
    b.gltf.nodes.append(g.Node(name="avatar", mesh=mesh, skin=0))
    b.gltf.scenes.append(g.Scene(name="avatar", nodes=[*roots, len(b.gltf.nodes) - 1]))
    b.gltf.scene = 0
    if motion is not None:
        _add_animation(b, avatar, motion)
    return b.glb()


def write_glb(path: str | Path, avatar: SkinnedAvatar, motion: MotionClip | None = None) -> Path:
    """Write :func:`glb_bytes` to ``path`` atomically."""
    atomic_write_bytes(path, glb_bytes(avatar, motion))
    return Path(path)
