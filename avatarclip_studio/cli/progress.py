"""Terminal progress bars for pipeline events (tqdm), one bar per stage."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

from avatarclip_studio.pipeline.events import ImageSnapshot, MeshSnapshot, Progress


class ProgressBars:
    """A :class:`~avatarclip_studio.pipeline.events.Reporter` listener that draws tqdm bars."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bar: tqdm | None = None
        self._stage = ""

    def __call__(self, event: Any) -> None:
        if isinstance(event, MeshSnapshot | ImageSnapshot):
            return
        if not isinstance(event, Progress):
            return
        if event.message and event.total == 0:
            self._write(f"[{event.stage}] {event.message}")
            return
        if not self.enabled:
            return
        if event.stage != self._stage or self._bar is None:
            self.close()
            self._stage = event.stage
            self._bar = tqdm(
                total=event.total, desc=event.stage, unit="step", dynamic_ncols=True, file=sys.stderr
            )
        bar = self._bar
        bar.n = event.step
        if event.losses:
            shown = {k: f"{v:.4g}" for k, v in list(event.losses.items())[:5]}
            bar.set_postfix(shown, refresh=False)
        bar.refresh()
        if event.step >= event.total:
            self.close()

    def _write(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
