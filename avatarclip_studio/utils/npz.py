"""What ``np.load`` of a damaged ``.npz`` raises: its loaders catch these and name the file.

An ``.npz`` is a zip archive of ``.npy`` files: besides numpy's ``ValueError``/``OSError``, a damaged one
raises zipfile's and the decompressors' own errors, ``NotImplementedError`` for an unknown zip version or
compression method, ``RuntimeError`` for a member flagged as encrypted, the header parser's
``SyntaxError``/``TokenError``, ``OverflowError``/``MemoryError`` when a header claims an absurd array
size, and ``KeyError`` for a missing member.
"""

from __future__ import annotations

import lzma
import struct
import tokenize
import zipfile
import zlib

NPZ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    EOFError,
    KeyError,
    SyntaxError,
    tokenize.TokenError,
    struct.error,
    OverflowError,
    MemoryError,
    NotImplementedError,
    RuntimeError,
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
)
