from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MotionConfig:
    """Motion generation (METHOD.md §5). Defaults are the original's unless marked "ours"."""

    pose_latent_dim: int = 32
    """Pose prior (VPoser-like) latent size."""
    pose_codebook_size: int = 4096
    """Poses sampled from the prior, rendered and encoded once per guidance model (then cached)."""
    codebook_azimuths_deg: tuple[float, ...] = (-60.0, -30.0, 0.0, 30.0, 60.0)
    """Views of each code-book pose, in ``render.camera.orbit_camera``'s convention (0° = the body's
    front). The original's 120°–240° are the same five views in its convention, where 180° is the front."""
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
    """Motion VAE width = latent size (ACTOR). Used when training; a trained file carries its own sizes
    (the shipped one is 64 wide with FF 256, 4 layers, 4 heads: trainable in minutes on a CPU)."""
    vae_ff: int = 1024
    vae_dropout: float = 0.1
    optimise_steps: int = 5000
    optimise_lr: float = 0.01
    lambda_clip: float = 0.001
    motion_intensity: float = 0.01
    """Weight of the frame-difference reward (original subtracts 0.01·delta)."""
    seed: int = 0
    pose_prior_path: str = ""
    """Pose prior weights (.safetensors); empty: the shipped resources/motion/pose_prior.safetensors."""
    motion_vae_path: str = ""
    """Motion VAE weights (.safetensors); empty: the shipped resources/motion/motion_vae.safetensors."""
    clip_frames: int = 2
    """Frames rendered for the guidance term, spread over the clip and ending at the last, later ones
    weighted more (ours: the original renders a few; each costs ~0.5 s of splatting on a 2-core CPU)."""
    clip_every: int = 25
    """Apply the guidance term every n-th step (ours: the original applies it every step, at 0.001
    weight; on a CPU that would be ~1 s/step. Set 1 on a GPU)."""
    clip_render_size: int = 128
    """Side of the differentiable renders of those frames (resized to the guidance input)."""
    latent_reg: float = 0.001
    """Ours: weight of |z|², keeping the latent where the VAE was trained."""
    checkpoint_every: int = 50
    """Steps between saves of the optimisation state when a checkpoint file is given."""
    snapshot_every: int = 25
    """Steps between live-view mesh snapshots of the clip's last frame."""
