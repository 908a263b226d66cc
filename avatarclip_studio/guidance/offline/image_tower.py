"""The offline model's image tower: a small CNN mapping renders into the frozen text space.

Input ``(B, 3, 96, 96)`` in [0, 1]; output ``(B, 384)`` unnormalised features. A patchify stem and a
flattened 6×6 head keep *where* a colour is (shirt vs trousers), which global pooling would lose.
"""

from __future__ import annotations

import math

import torch
from torch import nn

INPUT_SIZE = 96
EMBED_DIM = 384
_MEAN = (0.5, 0.5, 0.5)
_STD = (0.25, 0.25, 0.25)


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.GroupNorm(8, c_out), nn.GELU()
    )


class ImageTower(nn.Module):
    """CNN: 96² → 24² (4×4 patches) → 12² → 6² → linear to ``EMBED_DIM``; ~1.3 M parameters."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, width: int = 32, embed_dim: int = EMBED_DIM) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1))
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 4, stride=4),
            nn.GroupNorm(8, width),
            nn.GELU(),
            _block(width, 2 * width, 2),
            _block(2 * width, 2 * width, 1),
            _block(2 * width, 4 * width, 2),
            _block(4 * width, 2 * width, 1),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(2 * width * 36, embed_dim))
        # learnable inverse temperature of the contrastive loss (CLIP's init: 1/0.07)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B,3,96,96) in [0, 1] → (B, embed_dim)."""
        return self.head(self.features((images - self.mean) / self.std))
