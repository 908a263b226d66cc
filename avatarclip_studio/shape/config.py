"""Coarse shape generation (METHOD.md §1): shape VAE, code-book, neutral-anchored text query."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShapeConfig:
    latent_dim: int = 16
    """Shape VAE latent size (original: 16)."""
    hidden_dim: int = 256
    """Shape VAE hidden width. The original's 8192 maps 6890×3 vertices; ours encodes the body's
    16 betas (its vertices are exactly linear in them), where 256 is ample and the weights stay small."""
    vae_steps: int = 3000
    """Training steps when a shape VAE has to be trained (batch 256; seconds on a CPU)."""
    kl_weight: float = 0.1
    """Weight of the KL term against the vertex-space reconstruction (m² summed over vertices). 0.1 keeps
    ~6 active latent dimensions on the open body (its shapes vary along 6 phenotypes), 4 mm mean
    reconstruction error; 1.0 keeps 3 dimensions and 8 mm."""
    vae_weights: str = ""
    """Shape VAE weights; empty: the shipped ``resources/shape/shape_vae.pt`` when it was trained on the
    body in use, else one trained on that body and cached."""
    codebook_size: int = 2048
    """Latents sampled, decoded, rendered and encoded for the text query."""
    codebook_views: int = 3
    """Views per code-book entry (grey shading, front and 3/4), image features averaged."""
    render_size: int = 224
    """Side of the grey code-book renders (the guidance model resizes to its input size)."""
    top_k: int = 5
    """Best code-book entries reported with the winner."""
    neutral_text: str = "a 3d rendering of a person in unreal engine"
    """``t_neutral``: the text anchor of the relative query."""
