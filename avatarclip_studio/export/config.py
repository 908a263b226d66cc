"""Config of the export stage: files for Blender, game engines and the web."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportConfig:
    texture_size: int = 1024
    """Side of the baked UV texture atlas in the GLB."""
    bake_texture: bool = False
    """Bake the vertex colours into a per-triangle UV atlas (``export/uv_bake.py``) and write it as the GLB's
    baseColorTexture instead of COLOR_0; off: vertex colours only (smaller file, same look)."""
    video_size: tuple[int, int] = (720, 720)
    """Width, height of rendered videos and screenshots, pixels."""
    video_fps: float = 30.0
    turntable_seconds: float = 4.0
    """Length of one full turn of the turntable video."""
    camera_elevation: float = 10.0
    """Degrees above the horizon of the video camera."""
    max_vertices: int = 5_000_000
    """Meshes above this are refused (a broken extraction), with a clear error."""
    max_frames: int = 100_000
    """Motions above this are refused before anything large is allocated."""
