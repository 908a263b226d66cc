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
        return self.forward_with_waves(points)[0]

    def forward_with_waves(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The encoding, and its ``sin``/``cos`` parts ``(N, F, 3)`` that :meth:`backward_to_points` needs."""
        scaled = points[:, None, :] * self.scales[:, None]  # (N, F, 3)
        sin, cos = torch.sin(scaled), torch.cos(scaled)
        return torch.cat([points, sin.flatten(1), cos.flatten(1)], dim=-1), sin, cos

    def backward_to_points(self, grad: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor) -> torch.Tensor:
        """A gradient w.r.t. the encoding ``(N, 3 + 6F)`` → w.r.t. the points ``(N, 3)``, analytically:
        ``d sin(2^k p)/dp = 2^k cos(2^k p)``, ``d cos(2^k p)/dp = −2^k sin(2^k p)``."""
        n, frequencies = grad.shape[0], self.scales.shape[0]
        grad_sin = grad[:, 3 : 3 + 3 * frequencies].reshape(n, frequencies, 3)
        grad_cos = grad[:, 3 + 3 * frequencies :].reshape(n, frequencies, 3)
        return grad[:, :3] + ((grad_sin * cos - grad_cos * sin) * self.scales[:, None]).sum(dim=1)
