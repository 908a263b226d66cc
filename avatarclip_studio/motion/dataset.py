"""Training data of the pose prior and the motion VAE: the action library, random poses, AMASS.

Motions become tensors of per-frame features: 24 joint rotations in 6D (global orientation first,
heading removed at the window's first frame) and the root offset from that first frame.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from avatarclip_studio.motion.actions import library_clips
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.io import load_npz, mirror
from avatarclip_studio.motion.joint_limits import random_poses
from avatarclip_studio.utils.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_rot6d,
    rot6d_to_matrix,
)

FEATURES = 24 * 6 + 3
"""Per-frame motion features: 24 × 6D rotations, then root translation (3)."""


class TrainingDataError(ValueError):
    """Training data that cannot be used; the message names the folder."""


def read_amass_poses(amass_dir: str | Path) -> np.ndarray:
    """Every frame (N, 24, 3) of the AMASS ``.npz`` motions under ``amass_dir`` (read by ``motion.io``)."""
    root = Path(amass_dir)
    files = [p for p in sorted(root.rglob("*.npz")) if p.name != "shape.npz"]  # AMASS keeps betas apart
    if not files:
        raise TrainingDataError(f"{root}: no AMASS .npz motion files found")
    return np.concatenate([load_npz(path).poses for path in files])


def _mirror_poses(poses: torch.Tensor) -> torch.Tensor:
    """Left–right mirror of poses (N, 24, 3)."""
    clip = MotionClip(poses=poses.numpy(), trans=np.zeros((len(poses), 3), np.float32), fps=30.0)
    return torch.as_tensor(mirror(clip).poses)


def pose_training_set(
    rng: np.random.Generator, num_random: int, amass_dir: str | Path | None = None
) -> torch.Tensor:
    """Body poses (N, 24, 3) for the pose prior: AMASS frames when given, else joint-limited random
    poses plus every frame of the action library, all also mirrored."""
    if amass_dir is not None:
        poses = torch.as_tensor(read_amass_poses(amass_dir))
    else:
        library = np.concatenate([c.poses for c in library_clips()])
        poses = torch.as_tensor(np.concatenate([random_poses(num_random, rng), library]))
    poses = torch.cat([poses, _mirror_poses(poses)])
    poses[:, 0] = 0.0  # the prior models the body pose, not the global orientation
    return poses


def clip_features(clip: MotionClip) -> torch.Tensor:
    """(T, FEATURES) features of a whole clip (no heading removal: done per window)."""
    poses = torch.as_tensor(clip.poses)
    return torch.cat(
        [matrix_to_rot6d(axis_angle_to_matrix(poses)).reshape(len(poses), -1), torch.as_tensor(clip.trans)],
        dim=1,
    )


def _yaw_matrix(yaw: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(yaw), torch.sin(yaw)
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    return torch.stack([c, zero, s, zero, one, zero, -s, zero, c], -1).reshape(*yaw.shape, 3, 3)


def canonicalise(windows: torch.Tensor) -> torch.Tensor:
    """Remove each window's heading and horizontal position at its first frame.

    ``windows`` (B, T, FEATURES) → same shape: the first frame faces +z and stands at x = z = 0, so
    the VAE need not learn where in the room or which way a motion starts.
    """
    root = rot6d_to_matrix(windows[..., :6])  # (B, T, 3, 3)
    forward = root[:, 0, :, 2]  # where the body's +z points at the first frame
    yaw = torch.atan2(forward[:, 0], forward[:, 2])
    undo = _yaw_matrix(-yaw)[:, None]  # (B, 1, 3, 3)
    trans = windows[..., -3:] - windows[:, :1, -3:] * windows.new_tensor([1.0, 0.0, 1.0])
    out = windows.clone()
    out[..., :6] = matrix_to_rot6d(undo @ root)
    out[..., -3:] = (undo @ trans[..., None])[..., 0]
    return out


def sample_windows(
    clips: list[torch.Tensor], count: int, frames: int, generator: torch.Generator, noise: float = 0.01
) -> torch.Tensor:
    """Augmented training windows (count, frames, FEATURES) from clip features [(T_i, FEATURES)].

    Each window: a random clip, a random speed (0.75–1.3×), a smooth time-warp, a random crop (the
    last frame is held when the clip runs out), small rotation noise, then :func:`canonicalise`.
    """
    out = torch.empty(count, frames, FEATURES)
    choice = torch.randint(len(clips), (count,), generator=generator)
    u = torch.rand(count, 4, generator=generator)
    grid = torch.linspace(0.0, 1.0, frames)
    for b in range(count):
        clip = clips[int(choice[b])]
        speed = 0.75 + 0.55 * float(u[b, 0])
        warp = 0.15 * (float(u[b, 1]) - 0.5) * torch.sin(math.pi * grid)  # monotonic for |amp| < 1/π
        span = (frames - 1) * speed
        start = float(u[b, 2]) * max(len(clip) - 1 - span, 0.0)
        t = (start + span * (grid + warp)).clamp(0, len(clip) - 1)
        lo = t.floor().long()
        hi = (lo + 1).clamp(max=len(clip) - 1)
        w = (t - lo)[:, None]
        out[b] = clip[lo] * (1 - w) + clip[hi] * w
    rot = out[..., :-3].reshape(count, frames, 24, 6)
    rot = rot + noise * torch.randn(rot.shape, generator=generator)
    out[..., :-3] = matrix_to_rot6d(rot6d_to_matrix(rot)).reshape(count, frames, -1)
    return canonicalise(out)


def features_to_motion(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(T, FEATURES) → axis-angle poses (T, 24, 3) and root translation (T, 3)."""
    rot = rot6d_to_matrix(features[:, :-3].reshape(len(features), 24, 6))
    return matrix_to_axis_angle(rot), features[:, -3:]


def motion_training_clips(fps: float) -> list[torch.Tensor]:
    """Feature tensors of every library action and its mirror image, at ``fps``."""
    clips = library_clips(fps)
    return [clip_features(c) for c in clips + [mirror(c) for c in clips]]
