"""Config of the implicit avatar: SDF field, colour heads, NeuS volume rendering, template fit."""

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
    """Initial value of the learned variance v, inverse deviation s = exp(10 v) (original 0.3, s ≈ 20)."""
    fitted_inv_deviation: float = 0.6
    """v set after the template fit (s ≈ 400, surface ~3 mm thick): the fit gives an exact, sharp SDF, so
    sculpting starts sharp, as from the original's long NeuS fit, not from a fresh network's s ≈ 20. Sharper
    means fewer samples carry weight: a preview avatar sculpted 25 % faster than from s ≈ 150, with the
    same losses and look (docs/benchmarks/neus.md)."""
    sphere_radius: float = 0.5
    """Radius of the sphere the SDF is geometrically initialised to."""
    scene_radius: float = 1.0
    """The scene is the cube [−r, r]³ (the original: the unit sphere); bodies are centred at the pelvis."""
    samples_per_ray: int = 128
    """Fixed marching step = scene diameter / samples_per_ray (ours: ~1.6 cm; occupied cells only, so no
    importance sampling; the original used 32 coarse + 32 importance samples)."""
    occupancy_resolution: int = 64
    """Empty-space-skipping grid; cells near the surface are marched, the rest skipped."""
    occupancy_band: float = 0.05
    """A cell is occupied when |SDF| at its centre < band + half the cell diagonal (metres)."""
    occupancy_update_every: int = 16
    template_grey: float = 0.7
    """Albedo of the grey template that the colour head c(p) reproduces."""
    init_seconds: float = 60.0
    """Time budget of the initialisation fit to the template (ours: direct SDF fit, not 300k steps)."""
    init_steps: int = 1500
    init_lr: float = 1e-2
    init_batch: int = 4096
    """SDF sample points per init step (a sixteenth of them also carry the eikonal term)."""
