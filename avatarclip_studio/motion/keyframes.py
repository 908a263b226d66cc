"""Keyframed actions → :class:`MotionClip`: eased interpolation, follow-through lags, joint limits, grounding.

A key pose names joints and gives each an Euler rotation in degrees (x, then y, then z, about the
parent's rest axes: SMPL's joint-local frame), except the upper arms, which are aimed: ``left_arm`` /
``right_arm`` is the direction the upper arm points in the collar's frame (the T-pose is ±x). Aiming
is how animators think of arms and has no gimbal trouble. Conventions, checked with the body model's
forward kinematics: +x on a hip swings the leg back (−x: forward), +x on a knee bends it, +x on the
spine bows forward, −y on the left elbow (+y on the right) bends the forearm forward.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from avatarclip_studio.body.skeleton import JOINT_INDEX, NUM_JOINTS
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.joint_limits import aim_rotvec, clamp_euler
from avatarclip_studio.motion.kinematics import REST_SOLE_HEIGHT, sole_height

Vec3 = tuple[float, float, float]
Pose = Mapping[str, Vec3]
"""Joint name → Euler degrees; ``left_arm``/``right_arm`` → aim direction."""

ARM_KEYS = ("left_arm", "right_arm")
_REST_ARM = {"left_arm": np.array([1.0, 0.0, 0.0]), "right_arm": np.array([-1.0, 0.0, 0.0])}

STAND: dict[str, Vec3] = {
    "left_arm": (0.28, -0.96, 0.02),
    "right_arm": (-0.28, -0.96, 0.02),
    "left_elbow": (0.0, -8.0, 0.0),
    "right_elbow": (0.0, 8.0, 0.0),
}
"""Relaxed standing: arms at the sides, elbows soft. Every key pose starts from it."""

LAGS = {
    "left_elbow": 0.05,
    "right_elbow": 0.05,
    "left_wrist": 0.09,
    "right_wrist": 0.09,
    "neck": 0.04,
    "head": 0.07,
    "spine3": 0.02,
}
"""Seconds by which distal joints trail their chain: follow-through makes motion look less robotic."""


def mirror(pose: Pose) -> dict[str, Vec3]:
    """The left–right mirror image of a key pose (Euler (x, y, z) → (x, −y, −z), arm dir x → −x)."""
    out: dict[str, Vec3] = {}
    for name, (a, b, c) in pose.items():
        side = name.replace("left_", "\0").replace("right_", "left_").replace("\0", "right_")
        out[side] = (-a, b, c) if name in ARM_KEYS else (a, -b, -c)
    return out


def both(pose: Pose) -> dict[str, Vec3]:
    """A left-side pose completed with its mirror on the right."""
    return {**pose, **mirror(pose)}


@dataclass(frozen=True)
class KeyAction:
    """One action: key poses over time, a root path, optional looping."""

    name: str
    keys: Sequence[tuple[float, Pose]]
    """(time s, pose) sorted by time; the pose overrides :data:`STAND`."""
    duration: float
    root: Sequence[tuple[float, float, float]] = ((0.0, 0.0, 0.0),)
    """(time s, yaw degrees, lift m) keys; lift raises the body off the ground (jumps)."""
    speed: float = 0.0
    """Forward root speed (m/s) along the facing direction."""
    loop: float = 0.0
    """Cycle period (s) when the key poses repeat (walk, run); 0: play once, hold the last key."""
    aliases: tuple[str, ...] = field(default_factory=tuple)
    """Other phrasings of the action (for captions and look-up)."""


def _smooth(u: np.ndarray) -> np.ndarray:
    """Ease in/out (smootherstep): zero velocity and acceleration at each key."""
    return u * u * u * (u * (6.0 * u - 15.0) + 10.0)


def _interpolate(
    times: np.ndarray, values: np.ndarray, t: np.ndarray, period: float, spherical: bool = False
) -> np.ndarray:
    """Eased piecewise interpolation of ``values`` (K, D) at keys ``times`` (K,) sampled at ``t`` (T,).

    ``spherical``: values are directions, interpolated along great circles (a linear blend of two far
    apart directions would whip through the middle in a few frames).
    """
    if period > 0:
        t = np.mod(t, period)
        times = np.append(times, period)
        values = np.concatenate([values, values[:1]])
    t = np.clip(t, times[0], times[-1])
    idx = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2) if len(times) > 1 else None
    if idx is None:
        return np.repeat(values[:1], len(t), axis=0)
    span = np.maximum(times[idx + 1] - times[idx], 1e-9)
    u = _smooth(np.clip((t - times[idx]) / span, 0.0, 1.0))[:, None]
    if not spherical:
        return values[idx] * (1.0 - u) + values[idx + 1] * u
    a = values[idx] / np.linalg.norm(values[idx], axis=1, keepdims=True)
    b = values[idx + 1] / np.linalg.norm(values[idx + 1], axis=1, keepdims=True)
    omega = np.arccos(np.clip((a * b).sum(1, keepdims=True), -1.0, 1.0))
    sin = np.sin(omega)
    safe = sin > 1e-6
    wa = np.where(safe, np.sin((1.0 - u) * omega) / np.where(safe, sin, 1.0), 1.0 - u)
    wb = np.where(safe, np.sin(u * omega) / np.where(safe, sin, 1.0), u)
    return a * wa + b * wb


def render_action(action: KeyAction, fps: float = 30.0) -> MotionClip:
    """Sample a :class:`KeyAction` into a grounded :class:`MotionClip` at ``fps``."""
    num = max(2, round(action.duration * fps))
    t = np.arange(num) / fps
    times = np.array([k[0] for k in action.keys], dtype=np.float64)
    names = sorted({n for _, pose in action.keys for n in pose} | set(STAND))
    unknown = [n for n in names if n not in JOINT_INDEX and n not in ARM_KEYS]
    if unknown:
        raise ValueError(f"action {action.name!r}: unknown joints {unknown}")
    poses = np.zeros((num, NUM_JOINTS, 3))
    for name in names:
        values = np.array([pose.get(name, STAND.get(name, (0.0, 0.0, 0.0))) for _, pose in action.keys])
        track = _interpolate(times, values, t - LAGS.get(name, 0.0), action.loop, spherical=name in ARM_KEYS)
        if name in ARM_KEYS:
            shoulder = JOINT_INDEX[name.replace("arm", "shoulder")]
            poses[:, shoulder] = aim_rotvec(_REST_ARM[name], track)
        else:
            euler = clamp_euler(name, track)
            poses[:, JOINT_INDEX[name]] = Rotation.from_euler("xyz", euler, degrees=True).as_rotvec()
    root_keys = np.array(action.root, dtype=np.float64)
    yaw_lift = _interpolate(root_keys[:, 0], root_keys[:, 1:], t, 0.0)
    yaw = np.radians(yaw_lift[:, 0])
    pelvis = Rotation.from_rotvec(poses[:, 0])
    poses[:, 0] = (Rotation.from_euler("y", yaw[:, None]) * pelvis).as_rotvec()
    trans = np.zeros((num, 3))
    step = action.speed / fps
    trans[1:, 0] = np.cumsum(np.sin(yaw[:-1]) * step)
    trans[1:, 2] = np.cumsum(np.cos(yaw[:-1]) * step)
    soles = sole_height(torch.as_tensor(poses, dtype=torch.float32)).numpy()
    trans[:, 1] = REST_SOLE_HEIGHT - soles + yaw_lift[:, 1]
    return MotionClip(
        poses=poses.astype(np.float32), trans=trans.astype(np.float32), fps=fps, name=action.name
    )
