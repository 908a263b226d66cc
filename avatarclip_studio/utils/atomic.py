"""Atomic file writes: a reader sees the old file or the complete new one, never a partial one.

Data goes to a temporary file in the same folder, is flushed to disk, then renamed over the target.
A failure (full disk, cancel, crash) leaves the previous file untouched and removes the temporary.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


class OutputError(OSError):
    """An output that could not be written; the message names the file and the cause."""


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import: os.umask is process-wide and racy in a threaded app


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it replaces ``target``.

    For writers that want a file name (numpy, trimesh, torch.save, imageio).
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part" + target.suffix, dir=target.parent
        )
        os.close(fd)
        os.chmod(tmp_name, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs are for other tools too
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(target: str | Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(fh)`` on a binary temporary file, then move it over ``target``."""
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        write(fh)


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    atomic_write(target, lambda fh: fh.write(data))


def atomic_write_text(target: str | Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | Path, data: Any) -> None:
    atomic_write_text(target, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
