"""Functions the child-process tests run (module-level, so a spawned process can import them)."""

from __future__ import annotations

import time

from avatarclip_studio.pipeline.events import Progress, Reporter


def count(n: int, reporter: Reporter) -> int:
    for step in range(1, n + 1):
        reporter.emit(Progress("count", step, n, {"total": float(step)}, message=f"step {step}"))
    return n * 10


def forever(marker: str, reporter: Reporter) -> None:
    """Steps until stopped, appending one byte per step to ``marker``."""
    while True:
        reporter.check()
        with open(marker, "ab") as fh:
            fh.write(b".")
        time.sleep(0.02)


def broken(reporter: Reporter) -> None:
    raise ValueError("shape.npz: no betas")
