"""``.npz`` motions: AMASS archives (z up) in, and our own archives (y up) in and out.

Our archive: ``poses`` (T, 72) axis-angle, ``trans`` (T, 3) metres y up, ``fps`` scalar, ``betas`` optional.
AMASS: ``poses`` (T, 156) SMPL-H (or 165 SMPL-X, or ``root_orient`` + ``pose_body``), ``trans`` (T, 3) z up,
``mocap_framerate`` (or ``mocap_frame_rate``), ``betas``. Pickled (object) arrays are never loaded.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.io.errors import (
    MotionFileError,
    as_float_array,
    check_file,
    make_clip,
    reading,
)
from avatarclip_studio.motion.io.npy_safe import load_npz_arrays
from avatarclip_studio.motion.io.smpl_layout import poses_from_flat
from avatarclip_studio.utils.atomic import atomic_write
from avatarclip_studio.utils.rotations import axis_angle_to_matrix_np, matrix_to_axis_angle_np

# -90 degrees about x: AMASS's z-up world -> our y-up world (z -> y, y -> -z)
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

_DEFAULT_FPS = 30.0
_KEYS = ("poses", "trans", "fps", "mocap_framerate", "mocap_frame_rate", "root_orient", "pose_body", "betas")


def load_npz(path: str | Path, fps: float | None = None) -> MotionClip:
    """Read an AMASS or AvatarCLIP Studio ``.npz`` as a clip on the SMPL skeleton, y up.

    ``fps`` is used only when the archive has no frame rate (default 30). AMASS's global orientation and
    translation are turned to y up by rotating the world about the origin; this matches the body exactly
    up to a constant offset of ``R·J0 − J0`` (J0: the rest pelvis), which grounding removes.
    """
    path = check_file(path)
    arrays = load_npz_arrays(path, _KEYS)
    with reading(path, "npz"):
        ours = "fps" in arrays
        if "poses" in arrays:
            flat = as_float_array(path, arrays["poses"], "poses")
        elif "root_orient" in arrays and "pose_body" in arrays:
            root = as_float_array(path, arrays["root_orient"], "root_orient")
            body = as_float_array(path, arrays["pose_body"], "pose_body")
            if root.ndim != 2 or body.ndim != 2 or len(root) != len(body):
                raise MotionFileError(
                    path, f"root_orient {root.shape} and pose_body {body.shape} do not match"
                )
            flat = np.concatenate([root, body], axis=1)
        else:
            raise MotionFileError(path, f"no 'poses' array (found: {', '.join(sorted(arrays)) or 'nothing'})")
        poses = poses_from_flat(path, flat)
        if "trans" in arrays:
            trans = as_float_array(path, arrays["trans"], "trans")
            if trans.shape != (len(poses), 3):
                raise MotionFileError(path, f"trans has shape {trans.shape}, expected ({len(poses)}, 3)")
        else:
            trans = np.zeros((len(poses), 3))
        rate = next((arrays[k] for k in ("fps", "mocap_framerate", "mocap_frame_rate") if k in arrays), None)
        if rate is not None:
            rate_arr = as_float_array(path, rate, "frame rate")
            if rate_arr.size != 1:
                raise MotionFileError(path, f"frame rate has shape {rate_arr.shape}, expected a scalar")
            clip_fps = float(rate_arr.reshape(()))
        else:
            clip_fps = fps if fps is not None else _DEFAULT_FPS
        if not ours:
            rot = axis_angle_to_matrix_np(poses[:, 0])
            poses[:, 0] = matrix_to_axis_angle_np(Z_UP_TO_Y_UP @ rot)
            trans = trans @ Z_UP_TO_Y_UP.T
    return make_clip(path, poses, trans, clip_fps)


def load_npz_betas(path: str | Path) -> np.ndarray | None:
    """The ``betas`` (B,) stored with a motion archive, or None when it has none."""
    betas = load_npz_arrays(check_file(path), ("betas",)).get("betas")
    return None if betas is None else as_float_array(path, betas, "betas").reshape(-1)


def save_npz(path: str | Path, clip: MotionClip, betas: np.ndarray | None = None) -> None:
    """Write ``poses`` (T, 72), ``trans`` (T, 3), ``fps`` and optional ``betas`` (B,), atomically."""
    arrays: dict[str, np.ndarray] = {
        "poses": clip.poses.reshape(clip.num_frames, 72).astype(np.float32),
        "trans": clip.trans.astype(np.float32),
        "fps": np.asarray(clip.fps, dtype=np.float64),
    }
    if betas is not None:
        arrays["betas"] = np.asarray(betas, dtype=np.float32).reshape(-1)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub types allow_pickle as a kwarg
    atomic_write(path, lambda fh: fh.write(buffer.getvalue()))
