"""SMPL pose arrays in ``.npy`` / ``.pkl``: (T, 72), (72,), and AvatarCLIP's (T, 69) ``motion.npy`` and
``stand_pose.npy`` (body pose without global orientation); see :func:`poses_from_flat` for every layout.

Pickles are not trusted: ``.pkl`` files go through a restricted unpickler that builds numpy arrays,
numpy scalars, dicts, lists, tuples and plain numbers only, and refuses any other class (so a hostile
pickle cannot run code). ``.npy`` files never load pickled (object) arrays.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.io.errors import MotionFileError, as_float_array, check_file, make_clip, reading
from avatarclip_studio.motion.io.npy_safe import load_npy
from avatarclip_studio.motion.io.smpl_layout import poses_from_flat

_DEFAULT_FPS = 30.0

_ALLOWED_CLASSES = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
    *(
        (mod, name)
        for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    ),
    *((mod, "_frombuffer") for mod in ("numpy.core.numeric", "numpy._core.numeric")),
}

_POSE_KEYS = ("poses", "pose", "smpl_poses", "thetas", "smpl_pose")
_TRANS_KEYS = ("trans", "transl", "smpl_trans")


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_CLASSES:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays are allowed)")
        return super().find_class(module, name)


def safe_unpickle(path: Path) -> Any:
    """Unpickle numpy arrays, dicts, lists and numbers only; anything else is a :class:`MotionFileError`."""
    with reading(path, "pickle"):
        try:
            return _ArrayUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
        except pickle.UnpicklingError as exc:
            raise MotionFileError(path, f"not a readable pickle ({exc})") from exc


def load_smpl_pose(path: str | Path, fps: float | None = None) -> MotionClip:
    """Read SMPL poses from ``.npy`` or ``.pkl`` (restricted unpickler: see the module); fps default 30.

    A ``.pkl`` may hold the array itself or a dict with ``poses`` / ``smpl_poses`` (AIST++) or
    ``global_orient`` + ``body_pose``, and optionally ``trans`` / ``transl`` / ``smpl_trans`` (divided by
    ``smpl_scaling`` when present, as AIST++ stores it).
    """
    path = check_file(path)
    if path.suffix.lower() == ".npy":
        data: Any = load_npy(path)
    else:
        data = safe_unpickle(path)
    with reading(path, "SMPL pose"):
        poses, trans = _poses_and_trans(path, data)
    return make_clip(path, poses, trans, fps if fps is not None else _DEFAULT_FPS)


def _poses_and_trans(path: Path, data: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(data, dict):
        poses = poses_from_flat(path, as_float_array(path, data, "pose array"))
        return poses, np.zeros((len(poses), 3))
    pose_key = next((k for k in _POSE_KEYS if k in data), None)
    if pose_key is not None:
        flat = as_float_array(path, data[pose_key], pose_key)
    elif "global_orient" in data and "body_pose" in data:
        root = as_float_array(path, data["global_orient"], "global_orient").reshape(-1, 3)
        body = as_float_array(path, data["body_pose"], "body_pose").reshape(len(root), -1)
        flat = np.concatenate([root, body], axis=1)
    else:
        keys = ", ".join(sorted(map(str, data))) or "nothing"
        raise MotionFileError(path, f"no pose array in the pickle (found: {keys})")
    poses = poses_from_flat(path, flat)
    trans_value = next((data[k] for k in _TRANS_KEYS if k in data), None)
    if trans_value is None:
        return poses, np.zeros((len(poses), 3))
    trans = as_float_array(path, trans_value, "trans").reshape(-1, 3)
    if trans.shape != (len(poses), 3):
        raise MotionFileError(path, f"trans has shape {trans.shape}, expected ({len(poses)}, 3)")
    if "smpl_scaling" in data:
        scale = as_float_array(path, data["smpl_scaling"], "smpl_scaling").reshape(-1)
        if scale.size != 1 or scale[0] <= 0:
            raise MotionFileError(path, f"smpl_scaling must be one positive number, got {scale}")
        trans = trans / scale[0]
    return poses, trans
