"""A guidance model's fingerprint: its features of one fixed image.

Caches built with a guidance model (the shape and pose code-books) store it and are rebuilt when it
no longer matches, so new weights under the same model name never reuse stale features.
"""

from __future__ import annotations

import torch

from avatarclip_studio.guidance.base import Guidance


def probe_image(size: int = 64) -> torch.Tensor:
    """(1,3,S,S) a fixed colour-gradient image: its features fingerprint a guidance model's weights."""
    ramp = torch.linspace(0.0, 1.0, size)
    return torch.stack(
        [
            ramp[None, :].expand(size, size),
            ramp[:, None].expand(size, size),
            1 - ramp[None, :] * ramp[:, None],
        ]
    )[None]


@torch.no_grad()
def probe_features(guidance: Guidance) -> torch.Tensor:
    """(D,) the features of :func:`probe_image`, on the CPU."""
    return guidance.encode_image(probe_image())[0].float().cpu()


def same_model(stored: torch.Tensor, guidance: Guidance) -> bool:
    """Whether ``stored`` probe features are ``guidance``'s (within float noise)."""
    probe = probe_features(guidance)
    return stored.shape == probe.shape and torch.allclose(stored.float(), probe, atol=1e-4)
