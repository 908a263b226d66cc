"""Operations on clips: change the frame rate, mirror left and right."""

from __future__ import annotations

import numpy as np
import torch

from avatarclip_studio.body.skeleton import MIRROR_PAIRS
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.utils.rotations import axis_angle_to_quat, quat_slerp, quat_to_axis_angle


def resample(clip: MotionClip, fps: float) -> MotionClip:
    """The clip at ``fps``, same duration; rotations by slerp, translation linearly.

    Frame i of the result is at time i / fps; the last one is at or before the clip's last frame.
    """
    if not (np.isfinite(fps) and 0 < fps <= 1000):
        raise ValueError(f"fps must be in (0, 1000], got {fps}")
    count = int(np.floor((clip.num_frames - 1) * fps / clip.fps + 1e-6)) + 1
    src = np.minimum(np.arange(count) * clip.fps / fps, clip.num_frames - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, clip.num_frames - 1)
    w = src - lo
    quats = axis_angle_to_quat(torch.from_numpy(clip.poses.astype(np.float64)))
    t = torch.from_numpy(w)[:, None].expand(count, clip.poses.shape[1])
    poses = quat_to_axis_angle(quat_slerp(quats[lo], quats[hi], t)).numpy()
    trans = (1 - w)[:, None] * clip.trans[lo] + w[:, None] * clip.trans[hi]
    return MotionClip(poses.astype(np.float32), trans.astype(np.float32), float(fps), clip.name)


def mirror(clip: MotionClip) -> MotionClip:
    """Left and right swapped: the motion reflected in the body's sagittal plane (x -> -x).

    A reflection maps axis-angle (x, y, z) to (x, -y, -z) and swaps each left joint with its right one.
    """
    poses = clip.poses.copy()
    for left, right in MIRROR_PAIRS:
        poses[:, [left, right]] = poses[:, [right, left]]
    poses[..., 1:] *= -1
    trans = clip.trans * np.array([-1.0, 1.0, 1.0], dtype=clip.trans.dtype)
    return MotionClip(poses, trans, clip.fps, clip.name)
