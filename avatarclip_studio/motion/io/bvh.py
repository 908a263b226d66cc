"""BVH reading onto SMPL (parse + retarget) — the entry point for ``.bvh`` files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avatarclip_studio.body.skeleton import NUM_JOINTS
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.io.bvh_parse import read_bvh
from avatarclip_studio.motion.io.bvh_retarget import RetargetReport, retarget
from avatarclip_studio.motion.io.errors import make_clip, reading


def load_bvh(path: str | Path, rest_joints: np.ndarray | None = None) -> tuple[MotionClip, RetargetReport]:
    """Read any BVH skeleton and retarget it onto SMPL's 24 joints (see :mod:`bvh_retarget`).

    ``rest_joints`` (24, 3): the target body's rest joints (default a standard SMPL-like body); pass the
    ones a BVH was written with (:func:`save_bvh`) to read its poses back exactly.
    """
    bvh = read_bvh(path)
    target = None
    if rest_joints is not None:
        target = np.asarray(rest_joints, dtype=np.float64)
        if target.shape != (NUM_JOINTS, 3):
            raise ValueError(f"rest joints must be (24, 3), got {target.shape}")
    with reading(path, "BVH"):
        poses, trans, report = retarget(path, bvh, target)
    return make_clip(path, poses, trans, snap_fps(1.0 / bvh.frame_time)), report


def snap_fps(fps: float) -> float:
    """A whole frame rate when the file's rounded frame time hides one (0.0333333 s -> 30 fps)."""
    whole = round(fps)
    return float(whole) if whole > 0 and abs(fps - whole) < 1e-4 * fps else fps
