"""Numeric arrays from ``.npy`` / ``.npz`` files, headers checked before any data is allocated.

A damaged or hostile header can declare a huge shape over a few bytes of data; numpy would allocate the
whole array before noticing the data is missing. Here the declared size is compared with the bytes that
are really there first. Pickled (object) arrays are never loaded.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from avatarclip_studio.motion.io.errors import MAX_FILE_BYTES, MotionFileError, reading


def _read_checked(path: Path, fh: IO[bytes], available: int, name: str) -> np.ndarray:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    if dtype.kind not in "biuf":
        raise MotionFileError(path, f"{name} holds {dtype} values, expected numbers")
    nbytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if nbytes > min(available, MAX_FILE_BYTES):
        raise MotionFileError(
            path, f"{name} declares {shape} {dtype} ({nbytes} bytes) but the file is shorter"
        )
    data = fh.read(nbytes)
    if len(data) != nbytes:
        raise MotionFileError(path, f"{name} is truncated")
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C")


def load_npy(path: Path) -> np.ndarray:
    """The numeric array in a ``.npy`` file."""
    with reading(path, "npy"), open(path, "rb") as fh:
        return _read_checked(path, fh, path.stat().st_size, "the array")


def load_npz_arrays(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The numeric arrays named ``keys`` that a ``.npz`` archive holds (others are not read)."""
    with reading(path, "npz"), zipfile.ZipFile(path) as archive:
        out = {}
        for info in archive.infolist():
            key = info.filename.removesuffix(".npy")
            if key in keys:
                with archive.open(info) as fh:
                    out[key] = _read_checked(path, fh, info.file_size, repr(key))
        return out
