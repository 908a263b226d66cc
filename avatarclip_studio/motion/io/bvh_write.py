"""Write a :class:`MotionClip` as BVH on the SMPL skeleton (joint names as SMPL's, ZXY Euler channels, cm)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avatarclip_studio.body.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.io.rest_pose import DEFAULT_REST_JOINTS
from avatarclip_studio.utils.atomic import atomic_write_text
from avatarclip_studio.utils.rotations import axis_angle_to_matrix_np, matrix_to_euler_np

_CM = 100.0
_ROT = "Zrotation Xrotation Yrotation"


def _children(joint: int) -> list[int]:
    return [c for c in range(NUM_JOINTS) if PARENTS[c] == joint]


def bvh_text(clip: MotionClip, rest_joints: np.ndarray | None = None) -> str:
    """The BVH document for ``clip``; ``rest_joints`` (24, 3) metres, default a standard SMPL-like body.

    Rest frames are world-aligned in both SMPL and BVH, so each joint's SMPL local rotation is written as
    it is. The root's position channels hold ``rest_joints[0] + trans``.
    """
    rest = DEFAULT_REST_JOINTS if rest_joints is None else np.asarray(rest_joints, dtype=np.float64)
    if rest.shape != (NUM_JOINTS, 3) or not np.isfinite(rest).all():
        raise ValueError(f"rest joints must be a finite (24, 3) array, got shape {rest.shape}")
    lines = ["HIERARCHY"]
    order: list[int] = []  # joints in file (depth-first) order: the motion columns follow it

    def write_joint(j: int, depth: int) -> None:
        order.append(j)
        pad = "  " * depth
        offset = rest[j] - (rest[PARENTS[j]] if PARENTS[j] >= 0 else 0.0)
        lines.append(f"{pad}{'ROOT' if j == 0 else 'JOINT'} {JOINT_NAMES[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {' '.join(f'{v * _CM:.6f}' for v in offset)}")
        channels = f"6 Xposition Yposition Zposition {_ROT}" if j == 0 else f"3 {_ROT}"
        lines.append(f"{pad}  CHANNELS {channels}")
        children = _children(j)
        for child in children:
            write_joint(child, depth + 1)
        if not children:  # a leaf: an end site half as long as its bone, for viewers
            end = 0.5 * offset * _CM
            end_offset = " ".join(f"{v:.6f}" for v in end)
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {end_offset}", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    write_joint(0, 0)
    euler = matrix_to_euler_np(axis_angle_to_matrix_np(clip.poses.astype(np.float64)), order="ZXY")
    root = (clip.trans.astype(np.float64) + rest[0]) * _CM
    table = np.concatenate([root, euler[:, order].reshape(clip.num_frames, -1)], axis=1)
    lines += ["MOTION", f"Frames: {clip.num_frames}", f"Frame Time: {1.0 / clip.fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in table]
    return "\n".join(lines) + "\n"


def save_bvh(path: str | Path, clip: MotionClip, rest_joints: np.ndarray | None = None) -> None:
    """Write ``clip`` to ``path`` as BVH (see :func:`bvh_text`), atomically."""
    atomic_write_text(path, bvh_text(clip, rest_joints))
