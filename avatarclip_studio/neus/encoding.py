"""NeRF positional encoding of 3-D points."""

from __future__ import annotations

import torch
from torch import nn


class PositionalEncoding(nn.Module):
    """``p → (p, sin(2^k p), cos(2^k p))`` for ``k < frequencies``: (N, 3) → (N, 3 + 6·frequencies)."""

    def __init__(self, frequencies: int) -> None:
        super().__init__()
        if frequencies < 0:
            raise ValueError(f"positional encoding needs frequencies >= 0, got {frequencies}")
        self.scales: torch.Tensor
        self.register_buffer(
            "scales", 2.0 ** torch.arange(frequencies, dtype=torch.float32), persistent=False
        )
        self.out_dim = 3 + 6 * frequencies

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        scaled = (points[:, None, :] * self.scales[:, None]).flatten(1)  # (N, 3F)
        return torch.cat([points, torch.sin(scaled), torch.cos(scaled)], dim=-1)
