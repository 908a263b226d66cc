"""Anatomical joint limits (Euler degrees in SMPL's joint-local frame) and joint-limited random poses.

Limits are for the left side and the spine; right-side limits are their mirror images. The upper
arms are sampled as aim directions instead (see :mod:`avatarclip_studio.motion.keyframes`).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from avatarclip_studio.body.skeleton import JOINT_INDEX, NUM_JOINTS

Limits = tuple[tuple[float, float, float], tuple[float, float, float]]

_LEFT_AND_AXIAL: dict[str, Limits] = {
    # hip: −x flexes (leg forward), +z abducts (leg out to the left)
    "left_hip": ((-125.0, -35.0, -25.0), (30.0, 40.0, 60.0)),
    "left_knee": ((0.0, -5.0, -5.0), (150.0, 5.0, 5.0)),
    "left_ankle": ((-35.0, -15.0, -20.0), (45.0, 15.0, 20.0)),
    "left_foot": ((-30.0, -5.0, -5.0), (30.0, 5.0, 5.0)),
    "spine1": ((-25.0, -25.0, -20.0), (45.0, 25.0, 20.0)),
    "spine2": ((-20.0, -20.0, -15.0), (35.0, 20.0, 15.0)),
    "spine3": ((-20.0, -20.0, -15.0), (30.0, 20.0, 15.0)),
    "neck": ((-35.0, -45.0, -25.0), (40.0, 45.0, 25.0)),
    "head": ((-25.0, -30.0, -20.0), (30.0, 30.0, 20.0)),
    "left_collar": ((-10.0, -20.0, -15.0), (10.0, 20.0, 30.0)),
    "left_shoulder": ((-90.0, -120.0, -95.0), (90.0, 60.0, 110.0)),
    # elbow: −y bends the forearm forward; a little pronation about x
    "left_elbow": ((-60.0, -150.0, -5.0), (60.0, 0.0, 5.0)),
    "left_wrist": ((-60.0, -30.0, -70.0), (60.0, 30.0, 70.0)),
    "left_hand": ((-20.0, -10.0, -30.0), (20.0, 10.0, 30.0)),
    "pelvis": ((-180.0, -180.0, -180.0), (180.0, 180.0, 180.0)),
}


def _mirror_limits(lim: Limits) -> Limits:
    (lx, ly, lz), (hx, hy, hz) = lim
    return (lx, -hy, -hz), (hx, -ly, -lz)


EULER_LIMITS: dict[str, Limits] = dict(_LEFT_AND_AXIAL)
EULER_LIMITS.update(
    {
        name.replace("left_", "right_"): _mirror_limits(lim)
        for name, lim in _LEFT_AND_AXIAL.items()
        if "left_" in name
    }
)


def clamp_euler(joint: str, euler: np.ndarray) -> np.ndarray:
    """Clamp Euler degrees (T, 3) of ``joint`` to its limits."""
    lo, hi = EULER_LIMITS[joint]
    return np.clip(euler, lo, hi)


def aim_rotvec(rest: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Axis-angle (N, 3) of the shortest swing turning unit ``rest`` (3,) onto each ``target`` (N, 3)."""
    target = target / np.linalg.norm(target, axis=1, keepdims=True)
    axis = np.cross(rest, target)
    sin = np.linalg.norm(axis, axis=1, keepdims=True)
    angle = np.arctan2(sin, (target @ rest)[:, None])
    return np.where(sin > 1e-8, axis / np.maximum(sin, 1e-12) * angle, 0.0)


def random_poses(count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` joint-limited random body poses (count, 24, 3) axis-angle; the pelvis stays at zero.

    Each joint moves a random fraction of its range, squared so most joints stay near rest (as in
    real poses) while a few go far; the arms aim anywhere outside the torso.
    """
    poses = np.zeros((count, NUM_JOINTS, 3))
    for joint, (lo, hi) in EULER_LIMITS.items():
        if joint == "pelvis" or joint.endswith("_shoulder"):
            continue
        lo_a, hi_a = np.asarray(lo), np.asarray(hi)
        amount = rng.uniform(0.0, 1.0, (count, 1)) ** 2
        u = rng.uniform(0.0, 1.0, (count, 3))
        euler = np.where(u < 0.5, lo_a * (1 - 2 * u), hi_a * (2 * u - 1)) * amount
        poses[:, JOINT_INDEX[joint]] = Rotation.from_euler("xyz", euler, degrees=True).as_rotvec()
    for side, sign in (("left", 1.0), ("right", -1.0)):
        direction = rng.normal(size=(count, 3))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        # keep the upper arm out of the chest: no more than slightly across the midline
        direction[:, 0] = sign * np.maximum(sign * direction[:, 0], -0.3)
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        rest = np.array([sign, 0.0, 0.0])
        poses[:, JOINT_INDEX[f"{side}_shoulder"]] = aim_rotvec(rest, direction)
    return poses.astype(np.float32)
