"""Motion files in and out: AMASS / SMPL ``.npz``, SMPL ``.npy`` / ``.pkl``, BVH, DeepMimic clips.

Every reader returns a :class:`~avatarclip_studio.motion.clip.MotionClip` on SMPL's 24 joints, y up, or
raises :class:`MotionFileError` naming the file and the problem.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.io.bvh import load_bvh
from avatarclip_studio.motion.io.bvh_retarget import RetargetReport
from avatarclip_studio.motion.io.bvh_write import bvh_text, save_bvh
from avatarclip_studio.motion.io.deepmimic import load_deepmimic
from avatarclip_studio.motion.io.errors import MAX_FILE_BYTES, MAX_FRAMES, MotionFileError
from avatarclip_studio.motion.io.npz import load_npz, load_npz_betas, save_npz
from avatarclip_studio.motion.io.ops import mirror, resample
from avatarclip_studio.motion.io.rest_pose import DEFAULT_REST_JOINTS
from avatarclip_studio.motion.io.smpl_pose import load_smpl_pose

__all__ = [
    "DEFAULT_REST_JOINTS",
    "MAX_FILE_BYTES",
    "MAX_FRAMES",
    "MotionClip",
    "MotionFileError",
    "RetargetReport",
    "bvh_text",
    "load_bvh",
    "load_deepmimic",
    "load_motion",
    "load_npz",
    "load_npz_betas",
    "load_smpl_pose",
    "mirror",
    "resample",
    "save_bvh",
    "save_motion",
    "save_npz",
]

MOTION_SUFFIXES = (".npz", ".npy", ".pkl", ".bvh", ".txt", ".json")


def load_motion(path: str | Path, fps: float | None = None) -> MotionClip:
    """Read any supported motion file, chosen by extension.

    ``fps``: for files without a frame rate (``.npy``, ``.pkl``, some ``.npz``) it is their rate (default 30);
    for files with one it is the rate the clip is resampled to. ``.txt`` / ``.json`` are DeepMimic clips.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".npy", ".pkl"):
        return load_smpl_pose(path, fps)
    if suffix == ".npz":
        clip = load_npz(path, fps)
    elif suffix == ".bvh":
        clip = load_bvh(path)[0]
    elif suffix in (".txt", ".json"):
        clip = load_deepmimic(path)
    else:
        raise MotionFileError(path, f"unknown motion format {suffix!r} (known: {', '.join(MOTION_SUFFIXES)})")
    return clip if fps is None or abs(fps - clip.fps) < 1e-6 else resample(clip, fps)


def save_motion(
    clip: MotionClip,
    path: str | Path,
    betas: np.ndarray | None = None,
    rest_joints: np.ndarray | None = None,
) -> None:
    """Write ``clip`` as ``.npz`` (with optional ``betas``) or ``.bvh`` (on ``rest_joints``), by extension."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        save_npz(path, clip, betas)
    elif suffix == ".bvh":
        save_bvh(path, clip, rest_joints)
    else:
        raise ValueError(f"cannot write motion as {suffix!r}: use .npz or .bvh ({path})")
