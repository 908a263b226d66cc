from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportConfig:
    texture_size: int = 1024
    """Side of the baked UV texture atlas in the GLB."""
    video_size: tuple[int, int] = (720, 720)
    video_fps: float = 30.0
    turntable_seconds: float = 4.0
