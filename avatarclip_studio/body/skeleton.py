"""The SMPL 24-joint kinematic tree, shared by every stage (body, motion, export, viewer)."""

from __future__ import annotations

JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)

# parent index of each joint; -1 for the root
PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

NUM_JOINTS = 24
NUM_BODY_JOINTS = 23  # all but the pelvis (global orientation)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}

# left/right pairs, for mirroring poses and motions
MIRROR_PAIRS: tuple[tuple[int, int], ...] = tuple(
    (JOINT_INDEX[n], JOINT_INDEX["right_" + n[len("left_") :]]) for n in JOINT_NAMES if n.startswith("left_")
)
