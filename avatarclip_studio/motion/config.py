from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MotionConfig:
    pose_latent_dim: int = 32
    """Pose prior (VPoser-like) latent size."""
    pose_codebook_size: int = 4096
    codebook_azimuths_deg: tuple[float, ...] = (120.0, 150.0, 180.0, 210.0, 240.0)
    codebook_distance: float = 2.0
    top_k_text: int = 40
    duplicate_threshold: float = 0.07
    """Mean |Δθ| (rad) under which a candidate pose is a near-duplicate of a kept one."""
    num_candidates: int = 5
    candidate_weights: tuple[float, ...] = (1.0, 0.8, 0.6, 0.4, 0.2)
    num_frames: int = 60
    fps: float = 30.0
    vae_layers: int = 4
    vae_heads: int = 4
    vae_latent: int = 256
    vae_ff: int = 1024
    vae_dropout: float = 0.1
    optimise_steps: int = 5000
    optimise_lr: float = 0.01
    lambda_clip: float = 0.001
    motion_intensity: float = 0.01
    """Weight of the frame-difference reward (original subtracts 0.01·delta)."""
    seed: int = 0
