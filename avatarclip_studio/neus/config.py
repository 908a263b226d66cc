from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NeusConfig:
    """Implicit avatar: SDF field, colour head, texture head, NeuS volume rendering."""

    sdf_layers: int = 4
    """Hidden layers of the SDF MLP (original 4×256)."""
    sdf_width: int = 256
    color_layers: int = 2
    """Hidden layers of each colour head (original 2×256)."""
    color_width: int = 256
    pe_frequencies: int = 6
    """Positional-encoding frequencies of the SDF input (original 6)."""
    softplus_beta: float = 100.0
    init_inv_deviation: float = 0.3
    """Initial value of the learned inverse deviation s (stored as log s/10 in the original)."""
    samples_per_ray: int = 64
    """Samples per ray (original 32 coarse + 32 importance)."""
    occupancy_resolution: int = 64
    """Empty-space-skipping grid; cells near the surface are marched, the rest skipped."""
    occupancy_update_every: int = 16
    init_seconds: float = 60.0
    """Time budget of the initialisation fit to the template (ours: direct SDF fit, not 300k steps)."""
    init_steps: int = 1500
