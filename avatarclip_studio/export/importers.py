"""Bringing outside work in: the original AvatarCLIP's avatars and motions, and any BVH / AMASS motion.

The original's avatar ``.ply`` is a coloured marching-cubes mesh in SMPL's frame (y up, metres), built
around the SMPL body in its stand pose; it is rigged here by skin transfer from our body model and, when
its pose is given, brought back to the rest pose by inverse LBS. Motions (``motion.npy`` 60×69,
``stand_pose.npy``, AMASS ``.npz``, ``.bvh``) are read by the motion loaders; every motion is on SMPL's 24
joints, so it plays on any avatar.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from avatarclip_studio.avatar.skinned import SkinnedAvatar
from avatarclip_studio.avatar.skinning import make_skinned_avatar
from avatarclip_studio.body.model import BodyModel
from avatarclip_studio.export.checks import ExportError, check_mesh, check_motion
from avatarclip_studio.export.mesh import read_mesh
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.io import load_motion, load_smpl_pose

_GREY = 0.7


def load_pose(path: str | Path) -> np.ndarray:
    """One pose (24, 3) axis-angle from an SMPL pose file (e.g. AvatarCLIP's ``stand_pose.npy``, 69 or
    72 values); a file with several frames gives its first."""
    return load_smpl_pose(path).poses[0].astype(np.float32)


def import_avatar_mesh(
    path: str | Path,
    body: BodyModel,
    betas: np.ndarray | torch.Tensor | None = None,
    pose: np.ndarray | str | Path | None = None,
    max_vertices: int = 5_000_000,
) -> SkinnedAvatar:
    """Rig a coloured ``.ply`` / ``.obj`` (e.g. the original AvatarCLIP's avatar) on ``body``.

    ``betas (B,)``: the body shape the mesh was built around (None: the mean shape). ``pose``: the pose it
    was built in, as ``(24, 3)`` axis-angle or a pose file (the original's ``stand_pose.npy``); None: the
    rest pose. A mesh without colours is grey.
    """
    vertices, faces, colors = read_mesh(path)
    check_mesh(vertices, faces, what=str(path), max_vertices=max_vertices)
    if colors is None:
        colors = np.full((len(vertices), 3), _GREY, np.float32)
    if isinstance(pose, (str, Path)):
        pose = load_pose(pose)
    if pose is not None and np.asarray(pose).size != 72:
        raise ExportError(
            f"{path}: the mesh's pose must hold 24 joints × 3 values, got {np.asarray(pose).shape}"
        )
    return make_skinned_avatar(vertices, faces, colors, body, betas, pose=pose)


def import_motion(path: str | Path, fps: float | None = None, max_frames: int = 100_000) -> MotionClip:
    """Any supported motion file (AvatarCLIP ``motion.npy``, AMASS ``.npz``, ``.bvh`` ...) as a clip for
    any avatar; ``fps``: the rate of files without one, else the rate to resample to."""
    clip = load_motion(path, fps)
    check_motion(clip, what=str(path), max_frames=max_frames)
    return clip
