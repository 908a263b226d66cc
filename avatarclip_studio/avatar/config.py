from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MeshConfig:
    resolution: int = 512
    """Marching-cubes grid side (original 512); evaluated coarse-to-fine."""
    keep_largest_component: bool = True
    """Drop floating 'smoke' pieces."""
