"""DeepMimic motion clips (the ``humanoid3d_*.txt`` files pybullet ships), retargeted onto SMPL.

The file is JSON: ``{"Loop": ..., "Frames": [[dt, root pos (3), root quat (w,x,y,z), chest quat, neck quat,
r_hip quat, r_knee angle, r_ankle quat, r_shoulder quat, r_elbow angle, then the same for the left side],
...]}`` — 44 numbers a frame. Axes: y up, x forward, z right; rotations are local, joint frames
world-aligned at rest (arms down), like SMPL's. Knees and elbows bend about their local z axis.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from avatarclip_studio.body.skeleton import JOINT_INDEX, NUM_JOINTS
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.io.errors import (
    MotionFileError,
    as_float_array,
    check_file,
    check_frames,
    make_clip,
    reading,
)
from avatarclip_studio.utils.rotations import matrix_to_axis_angle_np, quat_to_matrix_np

# DeepMimic axes (x forward, y up, z right) -> SMPL axes (x left, y up, z forward); R -> N R N^T
DEEPMIMIC_TO_SMPL = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])

FRAME_WIDTH = 44

# (SMPL joint, first column, 4 = quaternion / 1 = hinge angle about z); the chest is spread over the spine
_CHANNELS: tuple[tuple[str, int, int], ...] = (
    ("pelvis", 4, 4),
    ("spine1", 8, 4),
    ("neck", 12, 4),
    ("right_hip", 16, 4),
    ("right_knee", 20, 1),
    ("right_ankle", 21, 4),
    ("right_shoulder", 25, 4),
    ("right_elbow", 29, 1),
    ("left_hip", 30, 4),
    ("left_knee", 34, 1),
    ("left_ankle", 35, 4),
    ("left_shoulder", 39, 4),
    ("left_elbow", 43, 1),
)
_SPINE = ("spine1", "spine2", "spine3")


def load_deepmimic(path: str | Path) -> MotionClip:
    """Read a DeepMimic clip; fps is 1 / the first frame's duration.

    The chest rotation is split evenly over SMPL's three spine joints (same axis, a third of the angle
    each, so the chain composes to the original); collars, wrists, feet and hands stay at zero. The
    translation is the root position in metres, turned to SMPL axes.
    """
    path = check_file(path)
    with reading(path, "DeepMimic JSON"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or not isinstance(doc.get("Frames"), list):
            raise MotionFileError(path, "no 'Frames' list: not a DeepMimic motion")
        check_frames(path, len(doc["Frames"]))
        frames = as_float_array(path, doc["Frames"], "Frames")
        if frames.ndim != 2 or frames.shape[1] != FRAME_WIDTH:
            raise MotionFileError(
                path, f"frames must be (T, {FRAME_WIDTH}) numbers, got shape {frames.shape}"
            )
        return make_clip(path, *_retarget(path, frames))


def _retarget(path: Path, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    dt = frames[0, 0]
    if not dt > 0:
        raise MotionFileError(path, f"the first frame's duration {dt} is not positive")
    poses = np.zeros((len(frames), NUM_JOINTS, 3))
    for joint, col, width in _CHANNELS:
        if width == 4:
            quat = frames[:, col : col + 4]
            if (np.linalg.norm(quat, axis=1) < 1e-6).any():
                raise MotionFileError(path, f"the {joint} quaternion is zero in some frame")
            aa = matrix_to_axis_angle_np(DEEPMIMIC_TO_SMPL @ quat_to_matrix_np(quat) @ DEEPMIMIC_TO_SMPL.T)
        else:
            aa = frames[:, col : col + 1] * DEEPMIMIC_TO_SMPL[:, 2]  # hinge about local z
        if joint == "spine1":
            for spine in _SPINE:
                poses[:, JOINT_INDEX[spine]] = aa / len(_SPINE)
        else:
            poses[:, JOINT_INDEX[joint]] = aa
    trans = frames[:, 1:4] @ DEEPMIMIC_TO_SMPL.T
    return poses, trans, 1.0 / dt
