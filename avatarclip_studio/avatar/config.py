"""Config of the avatar stage: mesh extraction from the sculpted field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MeshConfig:
    resolution: int = 512
    """Marching-cubes grid side in cells (original 512; 256+ for export); evaluated coarse-to-fine."""
    coarse_resolution: int = 32
    """Cells per side of the first, dense level; each later level halves the cell size but only inside
    cells near the surface. Lowered to a divisor of ``resolution`` reached by halving when needed."""
    refine_margin: float = 1.5
    """A cell is refined when some corner has ``|SDF| < refine_margin × cell diagonal``: 1 suffices for an
    exact distance, the slack covers a learned SDF that is not exactly 1-Lipschitz."""
    bbox_min: tuple[float, float, float] = (-1.2, -1.4, -0.8)
    """Lower corner of the extraction box, metres, SMPL frame (y up, pelvis at the origin); holds every
    body of the shipped shape space (the tallest, β₀ = +3, spans x ±1.07, y −1.18…0.96)."""
    bbox_max: tuple[float, float, float] = (1.2, 1.1, 0.8)
    """Upper corner of the extraction box."""
    chunk_size: int = 65536
    """Points per SDF / colour evaluation (bounds GPU memory)."""
    keep_largest_component: bool = True
    """Drop floating 'smoke' pieces."""

    def __post_init__(self) -> None:
        if self.resolution < 2 or self.coarse_resolution < 2:
            raise ValueError(
                f"mesh resolution must be >= 2, got {self.resolution} / {self.coarse_resolution}"
            )
        if any(lo >= hi for lo, hi in zip(self.bbox_min, self.bbox_max, strict=True)):
            raise ValueError(f"mesh box is empty: min {self.bbox_min}, max {self.bbox_max}")
        if self.chunk_size < 1 or self.refine_margin <= 0:
            raise ValueError("mesh chunk_size and refine_margin must be positive")
