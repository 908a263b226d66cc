"""Occupancy grid for empty-space skipping: only cells near the surface are marched.

A cell is occupied when the SDF at its centre is within ``band + half the cell diagonal`` of zero, so
every point of a cell that holds surface (for a 1-Lipschitz SDF) is inside an occupied cell. Rebuilt every
few optimisation steps; between rebuilds the surface moves far less than the band. The SDF sampled at
the cell centres is kept too: interpolated, it tells a renderer roughly where each ray meets the surface.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

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
        self.sdf: torch.Tensor | None = None
        """(R, R, R) float32 SDF at the cell centres at the last :meth:`update`; None before the first."""

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
        self.sdf = sdf.reshape(self.occupied.shape)
        self.occupied = self.sdf.abs() < threshold

    def sdf_at(self, points: torch.Tensor) -> torch.Tensor:
        """``points (N, 3) → (N,)``: the last update's SDF, trilinearly interpolated between cell centres
        (clamped to the border cells outside the cube). Needs a first :meth:`update`."""
        if self.sdf is None:
            raise RuntimeError("the occupancy grid has no SDF yet: call update() first")
        # grid_sample reads its last dimension as x: the (x, y, z) volume is addressed as (z, y, x)
        where = (points / self.radius).flip(-1).reshape(1, -1, 1, 1, 3).to(self.sdf.dtype)
        values = F.grid_sample(self.sdf[None, None], where, align_corners=False, padding_mode="border")
        return values.reshape(-1)

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
        state = {"occupied": self.occupied.clone()}
        if self.sdf is not None:
            state["sdf"] = self.sdf.clone()
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        occupied = state["occupied"].to(self.occupied.device, torch.bool)
        if occupied.shape != self.occupied.shape:
            raise ValueError(
                f"occupancy grid of shape {tuple(occupied.shape)} does not fit {self.occupied.shape}"
            )
        sdf = state.get("sdf")  # absent from checkpoints of earlier versions: known again at the next update
        if sdf is not None and sdf.shape != occupied.shape:
            raise ValueError(f"occupancy SDF of shape {tuple(sdf.shape)} does not fit {occupied.shape}")
        self.occupied = occupied
        self.sdf = None if sdf is None else sdf.to(occupied.device, torch.float32)
