"""Occupancy grid for empty-space skipping: only cells near the surface are marched.

A cell is occupied when the SDF at its centre is within ``band + half the cell diagonal`` of zero, so
every point of a cell that holds surface (for a 1-Lipschitz SDF) is inside an occupied cell. Rebuilt every
few optimisation steps; between rebuilds the surface moves far less than the band.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

SdfFn = Callable[[torch.Tensor], torch.Tensor]


class OccupancyGrid:
    """A boolean (R, R, R) grid over the cube [−radius, radius]³, indexed (x, y, z)."""

    def __init__(
        self, resolution: int, radius: float, band: float, device: torch.device | str = "cpu"
    ) -> None:
        if resolution < 2:
            raise ValueError(f"occupancy grid resolution must be >= 2, got {resolution}")
        self.resolution = resolution
        self.radius = radius
        self.band = band
        self.cell = 2.0 * radius / resolution
        self.occupied = torch.ones((resolution,) * 3, dtype=torch.bool, device=device)

    def centres(self) -> torch.Tensor:
        """(R³, 3) cell centres in (x, y, z) index order."""
        r = self.resolution
        axis = (
            torch.arange(r, device=self.occupied.device, dtype=torch.float32) + 0.5
        ) * self.cell - self.radius
        gx, gy, gz = torch.meshgrid(axis, axis, axis, indexing="ij")
        return torch.stack([gx, gy, gz], dim=-1).reshape(-1, 3)

    @torch.no_grad()
    def update(self, sdf_fn: SdfFn, chunk: int = 65536) -> None:
        """Re-evaluate the SDF at every cell centre and mark the cells near its zero level set."""
        centres = self.centres()
        sdf = torch.cat([sdf_fn(c).float() for c in centres.split(chunk)])
        threshold = self.band + 0.5 * self.cell * math.sqrt(3.0)
        self.occupied = (sdf.abs() < threshold).reshape(self.occupied.shape)

    def contains(self, points: torch.Tensor) -> torch.Tensor:
        """``points (N, 3) → (N,)`` bool: inside the cube and in an occupied cell."""
        idx = torch.floor((points + self.radius) / self.cell).long()
        inside = ((idx >= 0) & (idx < self.resolution)).all(dim=-1)
        idx = idx.clamp(0, self.resolution - 1)
        return inside & self.occupied[idx[:, 0], idx[:, 1], idx[:, 2]]

    @property
    def fraction(self) -> float:
        """Share of occupied cells (for logs and tests)."""
        return float(self.occupied.float().mean())

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"occupied": self.occupied.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        occupied = state["occupied"].to(self.occupied.device, torch.bool)
        if occupied.shape != self.occupied.shape:
            raise ValueError(
                f"occupancy grid of shape {tuple(occupied.shape)} does not fit {self.occupied.shape}"
            )
        self.occupied = occupied
