"""Flat pose vectors of the SMPL family (SMPL, SMPL-H, SMPL-X, AvatarCLIP's body-only poses) -> (T, 24, 3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avatarclip_studio.body.skeleton import NUM_JOINTS
from avatarclip_studio.motion.io.errors import MotionFileError, check_frames

# width of a per-frame pose vector -> (joints it holds, whether joint 0 = global orientation is among them)
_LAYOUTS: dict[int, tuple[int, bool]] = {
    72: (24, True),  # SMPL
    69: (23, False),  # SMPL body pose (AvatarCLIP motion.npy, stand_pose.npy)
    66: (22, True),  # SMPL-H/X body without hands
    63: (21, False),  # SMPL-X body_pose
    156: (22, True),  # SMPL-H (AMASS): 22 body joints + 2x15 hand joints, hands dropped
    165: (22, True),  # SMPL-X: 22 body joints + jaw, eyes, hands, all dropped
}


def poses_from_flat(path: str | Path, flat: np.ndarray) -> np.ndarray:
    """(T, D) or (D,) axis-angle -> (T, 24, 3) float64 SMPL poses; joints the layout lacks are zero.

    D is one of 72 (SMPL), 69 (body without global orientation), 66 / 156 / 165 (SMPL-H / SMPL-X: the
    first 22 joints are SMPL's, hands are zeroed) or 63 (SMPL-X body pose without global orientation).
    (T, 24, 3) and (T, 23, 3) arrays are taken as they are.
    """
    if flat.ndim == 3 and flat.shape[1:] in ((24, 3), (23, 3)):
        flat = flat.reshape(len(flat), -1)
    if flat.ndim == 1:
        flat = flat[None]
    if flat.ndim != 2 or flat.shape[1] not in _LAYOUTS:
        widths = ", ".join(str(w) for w in _LAYOUTS)
        raise MotionFileError(path, f"pose array of shape {flat.shape} is not (T, D) with D in {widths}")
    check_frames(path, len(flat))
    count, has_root = _LAYOUTS[flat.shape[1]]
    poses = np.zeros((len(flat), NUM_JOINTS, 3))
    first = 0 if has_root else 1
    poses[:, first : first + count] = flat[:, : count * 3].reshape(len(flat), count, 3)
    return poses
