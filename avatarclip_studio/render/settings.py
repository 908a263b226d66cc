"""What a frame is drawn with: user-facing :class:`RenderSettings` and the per-frame :class:`ViewState`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from avatarclip_studio.render.camera import Camera

RenderMode = Literal["textured", "gray", "normals"]
MODE_IDS: dict[str, int] = {"textured": 0, "gray": 1, "normals": 2}
"""Shader ``mode`` uniform of each render mode (3 is the flat wireframe colour)."""


@dataclass(frozen=True)
class RenderSettings:
    """How the scene looks.

    ``textured``: vertex colours or the texture, lit by a key light plus ambient; ``gray``: Lambertian
    grey ``A + D·(n·l)`` with ``D = 1 − A`` (what the geometry loss sees); ``normals``: camera-space
    normals as colours.
    """

    mode: RenderMode = "textured"
    wireframe: bool = False
    """Draw the triangle edges over the surface."""
    show_grid: bool = True
    show_skeleton: bool = False
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ambient: float = 0.2
    """A of ``A + D·(n·l)``."""
    light_dir: tuple[float, float, float] | None = None
    """World direction toward the light; None: the light follows the camera (shines from the eye)."""
    wire_color: tuple[float, float, float] = (0.05, 0.05, 0.05)
    wire_alpha: float = 0.45
    """Opacity of the wireframe edges over the surface."""
    pixel_scale: float = 1.0
    """Framebuffer pixels per displayed pixel (HiDPI ratio, supersampling): line widths and point sizes
    are multiplied by it so overlays keep their apparent thickness."""

    def __post_init__(self) -> None:
        if self.mode not in MODE_IDS:
            raise ValueError(f"render mode must be one of {sorted(MODE_IDS)}, got {self.mode!r}")
        if not 0.0 <= self.ambient <= 1.0:
            raise ValueError(f"ambient must be in [0, 1], got {self.ambient}")


@dataclass(frozen=True)
class ViewState:
    """Matrices of one frame (float32, row-major; shaders get them transposed) and the light."""

    camera: Camera
    view: np.ndarray  # (4, 4)
    view_proj: np.ndarray  # (4, 4)
    light_dir: np.ndarray  # (3,) unit, world space, toward the light

    @classmethod
    def make(cls, camera: Camera, aspect: float, settings: RenderSettings) -> ViewState:
        view = camera.view_matrix()
        if settings.light_dir is None:
            light = np.asarray(camera.eye, np.float64) - np.asarray(camera.target, np.float64)
        else:
            light = np.asarray(settings.light_dir, np.float64)
        norm = np.linalg.norm(light)
        if norm < 1e-9:
            raise ValueError("light direction must not be zero")
        return cls(
            camera=camera,
            view=view,
            view_proj=camera.projection_matrix(aspect) @ view,
            light_dir=(light / norm).astype(np.float32),
        )
