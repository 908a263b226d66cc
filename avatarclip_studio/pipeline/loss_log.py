"""Every step's losses of a run, appended to ``losses.jsonl`` in its folder, and read back for the plots.

One JSON object per line: ``{"stage", "step", "losses": {name: value}, "steps_per_second"}``. The log is
a record for people (the studio redraws a reopened run's curves from it), not a checkpoint: a line cut by
a kill or a damaged line is skipped when reading, and a write that fails (a full disk) turns the log off
for the rest of the run instead of stopping the run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from avatarclip_studio.pipeline.events import Progress

LOSS_LOG = "losses.jsonl"


class LossLog:
    """A reporter listener appending each :class:`Progress` with losses to ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.enabled = True

    def __call__(self, event: object) -> None:
        if not self.enabled or not isinstance(event, Progress) or not event.losses:
            return
        record = {
            "stage": event.stage,
            "step": event.step,
            "losses": {k: float(v) for k, v in event.losses.items()},
            "steps_per_second": event.steps_per_second,
        }
        try:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
        except OSError:
            self.enabled = False


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _progress(record: Any) -> Progress | None:
    if not isinstance(record, dict):
        return None
    stage, step, losses = record.get("stage"), record.get("step"), record.get("losses")
    rate = record.get("steps_per_second")
    if not isinstance(stage, str) or isinstance(step, bool) or not isinstance(step, int):
        return None
    if not isinstance(losses, dict):
        return None
    values = {str(k): float(v) for k, v in losses.items() if _number(v) and math.isfinite(v)}
    speed = float(rate) if isinstance(rate, int | float) and _number(rate) else None
    return Progress(stage, step, step, values, None, speed)


def read_loss_log(path: str | Path, prefer: str = "sculpt") -> list[Progress]:
    """The logged steps of stage ``prefer`` (else of the last stage logged) in step order; [] if none.

    Unreadable lines are skipped; an unreadable file gives []."""
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    events: list[Progress] = []
    for line in lines:
        try:
            event = _progress(json.loads(line))
        except (ValueError, RecursionError):
            continue
        if event is not None:
            events.append(event)
    if not events:
        return []
    stage = prefer if any(e.stage == prefer for e in events) else events[-1].stage
    # a resumed run logs the steps after its last checkpoint again: the later record of a step wins
    by_step = {e.step: e for e in events if e.stage == stage}
    return [by_step[step] for step in sorted(by_step)]
