"""The error every motion reader raises, the size limits, and checks shared by the readers."""

from __future__ import annotations

import pickle
import struct
import tokenize
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from avatarclip_studio.motion.clip import MotionClip

MAX_FRAMES = 100_000
"""More frames than this (55 min at 30 fps) is taken as a corrupt or hostile file."""
MAX_FILE_BYTES = 1 << 30
"""Files over 1 GiB are refused before reading."""
_MAX_VALUE = 1e6  # no rotation or position comes near this; larger values are garbage (and overflow float32)


class MotionFileError(ValueError):
    """A motion file that cannot be read; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# what numpy (its header parser tokenizes), zipfile, zlib, struct, json and pickle raise on damaged input
_DECODE_ERRORS = (
    ValueError,
    SyntaxError,
    tokenize.TokenError,
    struct.error,
    zlib.error,
    pickle.UnpicklingError,
    NotImplementedError,
    RuntimeError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    EOFError,
    OSError,
    OverflowError,
    MemoryError,
    UnicodeDecodeError,
    zipfile.BadZipFile,
)


@contextmanager
def reading(path: str | Path, what: str) -> Iterator[None]:
    """Turn any decoding failure inside the block into a :class:`MotionFileError` naming ``path``."""
    try:
        yield
    except MotionFileError:
        raise
    except _DECODE_ERRORS as exc:
        raise MotionFileError(path, f"not a readable {what} file ({type(exc).__name__}: {exc})") from exc


def check_file(path: str | Path) -> Path:
    """The path if it is a regular file within :data:`MAX_FILE_BYTES`, else a :class:`MotionFileError`."""
    path = Path(path)
    if not path.is_file():
        raise MotionFileError(path, "no such file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise MotionFileError(path, f"file is {size / 2**30:.1f} GiB; motion files over 1 GiB are refused")
    if size == 0:
        raise MotionFileError(path, "file is empty")
    return path


def as_float_array(path: str | Path, value: object, name: str) -> np.ndarray:
    """``value`` as a finite float64 array, or a :class:`MotionFileError` saying what is wrong with it."""
    if not isinstance(value, np.ndarray | list | tuple | float | int | np.number):
        raise MotionFileError(path, f"{name} is a {type(value).__name__}, expected numbers")
    with reading(path, "motion"):
        arr = np.asarray(value, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise MotionFileError(path, f"{name} contains NaN or infinite values")
    return arr


def check_frames(path: str | Path, num_frames: int) -> None:
    if num_frames < 1:
        raise MotionFileError(path, "the motion has no frames")
    if num_frames > MAX_FRAMES:
        raise MotionFileError(path, f"{num_frames} frames is more than the limit of {MAX_FRAMES}")


def check_fps(path: str | Path, fps: float) -> float:
    fps = float(fps)
    if not (np.isfinite(fps) and 0 < fps <= 1000):
        raise MotionFileError(path, f"frame rate {fps} is not in (0, 1000]")
    return fps


def make_clip(path: str | Path, poses: np.ndarray, trans: np.ndarray, fps: float) -> MotionClip:
    """A float32 :class:`MotionClip` named after the file; bad values become a :class:`MotionFileError`."""
    check_frames(path, len(poses))
    fps = check_fps(path, fps)
    if not (np.isfinite(poses).all() and np.isfinite(trans).all()):
        raise MotionFileError(path, "the motion contains NaN or infinite values")
    if max(np.abs(poses).max(), np.abs(trans).max()) > _MAX_VALUE:
        raise MotionFileError(path, f"the motion has values over {_MAX_VALUE:g} (radians or metres)")
    try:
        return MotionClip(poses.astype(np.float32), trans.astype(np.float32), fps, name=Path(path).stem)
    except ValueError as exc:
        raise MotionFileError(path, str(exc)) from exc
