"""Reading SMPL-format model files (.npz / .pkl; SMPL, SMPL-H or the body part of SMPL-X).

Everything is returned as plain float32/int64 numpy arrays in SMPL's layout, whatever the source:

- ``v_template (V,3)``, ``f (F,3)``, ``weights (V,24)``, ``J_regressor (24,V)``,
  ``shapedirs (V,3,B)``, ``posedirs (V,3,207)``, ``parents (24,)``;
- optional ``sample_betas (N,B)``: betas of realistic bodies (the open body stores those it was built
  from; the shape VAE trains on them).

Pickles are untrusted: ``.pkl`` files go through an unpickler that only rebuilds numpy arrays and
scipy sparse matrices (the official files store ``J_regressor`` sparse); anything else — notably the
``chumpy`` objects of the original SMPL release — is refused with a message saying how to convert.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from avatarclip_studio.body.skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS
from avatarclip_studio.utils.npz import NPZ_ERRORS

REQUIRED_KEYS = ("v_template", "f", "weights", "J_regressor", "shapedirs", "kintree_table")
NUM_POSE_FEATURES = (NUM_JOINTS - 1) * 9

# SMPL-H (52 joints) and SMPL-X (55): joints 0..21 are SMPL's, then (SMPL-X only) jaw and eyes, whose
# skin follows the head, then 15 joints per hand, folded onto SMPL's hand joints (22, 23) placed at the
# first index-finger joint. Values: (first left-hand joint, face joints).
_FOLDED_JOINTS: dict[int, tuple[int, tuple[int, ...]]] = {52: (22, ()), 55: (25, (22, 23, 24))}


class BodyModelError(ValueError):
    """A body model file that is missing or unusable; the message names the file and the fix."""


class _SafeUnpickler(pickle.Unpickler):
    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("scipy.sparse._csc", "csc_matrix"),
        ("scipy.sparse.csc", "csc_matrix"),
        ("scipy.sparse._csr", "csr_matrix"),
        ("scipy.sparse.csr", "csr_matrix"),
        ("copy_reg", "_reconstructor"),
        ("copyreg", "_reconstructor"),
        ("__builtin__", "object"),
        ("builtins", "object"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        if module.startswith("chumpy"):
            raise pickle.UnpicklingError(
                "it stores chumpy objects (the original SMPL release); convert it once with smplx's "
                "tools/clean_ch.py or save its arrays to an .npz"
            )
        raise pickle.UnpicklingError(f"it contains a {module}.{name} object, which is not allowed")


def _dense(value: Any) -> np.ndarray:
    if hasattr(value, "toarray"):  # scipy sparse
        return np.asarray(value.toarray())
    return np.asarray(value)


# a damaged pickle also fails in the unpickler's own ways (opcode arguments out of range, a bad stack)
_READ_ERRORS: tuple[type[BaseException], ...] = (
    *NPZ_ERRORS,
    pickle.UnpicklingError,
    TypeError,
    IndexError,
    AttributeError,
)


def _read_raw(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise BodyModelError(
            f"body model file {path} does not exist; build the open body with "
            "`avatarclip-studio train body` or point AVATARCLIP_BODY_MODEL at an SMPL .npz/.pkl"
        )
    try:
        if path.suffix == ".pkl":
            with open(path, "rb") as fh:
                raw = _SafeUnpickler(fh, encoding="latin1").load()
            if not isinstance(raw, dict):
                raise BodyModelError(f"body model file {path} holds a {type(raw).__name__}, not a dict")
            return {k: _dense(v) for k, v in raw.items() if k in REQUIRED_KEYS or k == "posedirs"}
        with np.load(path, allow_pickle=False) as npz:
            return {k: np.asarray(npz[k]) for k in npz.files}
    except _READ_ERRORS as exc:
        if isinstance(exc, BodyModelError):
            raise
        raise BodyModelError(f"cannot read body model file {path}: {exc}") from exc


def _fold_to_body(data: dict[str, np.ndarray], left: int, face: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The body part of an SMPL-H/SMPL-X model on SMPL's 24 joints (see :data:`_FOLDED_JOINTS`)."""
    weights = data["weights"]
    right = left + 15
    body = weights[:, :22].copy()
    body[:, JOINT_INDEX["head"]] += weights[:, list(face)].sum(1)
    hands = [weights[:, first : first + 15].sum(1, keepdims=True) for first in (left, right)]
    data["weights"] = np.concatenate([body, *hands], axis=1)
    data["J_regressor"] = data["J_regressor"][[*range(22), left, right]]
    data["kintree_table"] = np.stack([np.array(PARENTS), np.arange(NUM_JOINTS)])
    if "posedirs" in data:
        data["posedirs"] = data["posedirs"][..., : 21 * 9]  # body joints 1..21; hands get none
    return data


def read_body_file(path: str | Path) -> dict[str, np.ndarray]:
    """Read and validate an SMPL-format file into SMPL's 24-joint layout (see module docstring)."""
    path = Path(path)
    data = _read_raw(path)
    used = (*REQUIRED_KEYS, "posedirs", "sample_betas")
    odd = sorted(k for k, v in data.items() if k in used and v.dtype.kind not in "iuf")
    if odd:
        raise BodyModelError(f"body model file {path}: {', '.join(odd)} must hold real numbers")
    try:
        arrays = _validated(path, data)
    except (ValueError, TypeError, IndexError) as exc:  # wrong dtypes or ranks the checks did not name
        if isinstance(exc, BodyModelError):
            raise
        raise BodyModelError(f"body model file {path}: malformed arrays ({exc})") from exc
    bad = [k for k, v in arrays.items() if v.dtype.kind == "f" and not np.isfinite(v).all()]
    if bad:
        raise BodyModelError(f"body model file {path}: {', '.join(bad)} contain NaN or infinite values")
    return arrays


def _validated(path: Path, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise BodyModelError(
            f"body model file {path} lacks {', '.join(missing)}; it is not an SMPL-format model"
        )
    num_joints = data["weights"].shape[1] if data["weights"].ndim == 2 else -1
    if num_joints in _FOLDED_JOINTS:
        data = _fold_to_body(data, *_FOLDED_JOINTS[num_joints])
    elif num_joints != NUM_JOINTS:
        shape = data["weights"].shape
        raise BodyModelError(f"body model file {path}: weights are {shape}, expected (V,24)")
    v = np.asarray(data["v_template"], dtype=np.float32)
    num_verts = v.shape[0]
    shapes = {
        "v_template": (num_verts, 3),
        "weights": (num_verts, NUM_JOINTS),
        "J_regressor": (NUM_JOINTS, num_verts),
    }
    for key, shape in shapes.items():
        if data[key].shape != shape:
            raise BodyModelError(
                f"body model file {path}: {key} has shape {data[key].shape}, expected {shape}"
            )
    shapedirs = np.asarray(data["shapedirs"], dtype=np.float32)
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (num_verts, 3):
        raise BodyModelError(
            f"body model file {path}: shapedirs has shape {shapedirs.shape}, expected (V,3,B)"
        )
    faces = np.asarray(data["f"], dtype=np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.min() < 0 or faces.max() >= num_verts:
        raise BodyModelError(f"body model file {path}: faces f must be (F,3) indices below {num_verts}")
    posedirs = np.zeros((num_verts, 3, NUM_POSE_FEATURES), np.float32)
    if "posedirs" in data:
        given = np.asarray(data["posedirs"], dtype=np.float32)
        posedirs[..., : given.shape[-1]] = given[..., :NUM_POSE_FEATURES]
    parents = np.asarray(data["kintree_table"][0][:NUM_JOINTS], dtype=np.int64)
    parents[0] = -1
    if tuple(parents.tolist()) != PARENTS:
        raise BodyModelError(f"body model file {path}: its kinematic tree is not SMPL's 24-joint tree")
    extra: dict[str, np.ndarray] = {}
    if "sample_betas" in data:
        sample_betas = np.asarray(data["sample_betas"], dtype=np.float32)
        if sample_betas.ndim != 2 or sample_betas.shape[1] != shapedirs.shape[-1]:
            raise BodyModelError(f"body model file {path}: sample_betas is {sample_betas.shape}, not (N,B)")
        extra["sample_betas"] = sample_betas
    return {
        **extra,
        "v_template": v,
        "f": faces,
        "weights": np.asarray(data["weights"], dtype=np.float32),
        "J_regressor": np.asarray(data["J_regressor"], dtype=np.float32),
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "parents": parents,
    }


def metadata_of(path: str | Path) -> dict[str, str]:
    """String metadata stored next to the arrays of an .npz (``meta_*`` keys); empty for other files."""
    path = Path(path)
    if path.suffix != ".npz":
        return {}
    with np.load(path, allow_pickle=False) as npz:
        return {k[len("meta_") :]: str(npz[k]) for k in npz.files if k.startswith("meta_")}


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """Compressed .npz content (zeros, e.g. an empty posedirs, cost almost nothing)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()
