from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShapeConfig:
    latent_dim: int = 16
    """Shape VAE latent size (original: 16)."""
    hidden_dim: int = 8192
    """Shape VAE hidden width (original: linear 8192)."""
    codebook_size: int = 2048
    """Latents sampled, decoded, rendered and encoded for the text query."""
    codebook_views: int = 3
    """Views per code-book entry (grey shading, front and 3/4), image features averaged."""
    neutral_text: str = "a 3d rendering of a person in unreal engine"
