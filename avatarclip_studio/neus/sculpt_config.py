"""Config of the CLIP-guided sculpting and texturing stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class SculptConfig:
    """CLIP-guided sculpting and texturing (METHOD.md section 3), loss weights named as in the paper."""

    steps: int = 30000
    lr: float = 5e-4
    render_size: int = 256
    """Side of the rendered view before resizing to the guidance input (original ≤ 256)."""
    max_rays: int = 12544
    """Ray budget per view (original 12,544): when the dilated template silhouette holds more pixels, a
    random subset of this many is rendered and the other pixels show the background."""
    template_reference: Literal["mesh", "field"] = "mesh"
    """How the grey template that the c head reproduces is rendered: ``"mesh"`` ray-casts the template
    mesh (Embree; falls back to ``"field"`` where it is not installed), ``"field"`` renders a frozen copy
    of the initial field by NeuS (the original's way, a second NeuS pass per step)."""
    silhouette_dilation: float = 0.03
    """Dilation of the template silhouette (rays are cast only inside it), as a fraction of the image side."""
    lambda_rec: float = 1.0
    lambda_eikonal: float = 0.1
    lambda_mask: float = 1.0
    lambda_clip_color: float = 1.0
    lambda_clip_gray: float = 1.0
    face_every: int = 4
    """Every n-th step renders a face zoom with the face prompt."""
    cam_distance_range: tuple[float, float] = (1.0, 2.0)
    cam_elevation_std: float = 1.0471975511965976  # π/3
    face_distance: float = 0.4
    face_elevation_std: float = 0.2617993877991494  # π/12
    lookat_jitter_std: float = 0.1
    lookat_jitter_clip: float = 0.3
    back_view_angle: float = 0.7853981633974483  # π/4
    """Body views within this azimuth of straight behind use the back prompt."""
    light_jitter: float = 0.7853981633974483  # π/4
    ambient_max: float = 0.2
    checkpoint_every: int = 100
    """Steps between checkpoints (model, optimiser, random state); a rerun resumes from the last one."""
    snapshot_mesh_resolution: int = 40
    """Grid side of the light marching-cubes mesh sent to the live view."""
    snapshot_every: int = 25
    seed: int = 0
