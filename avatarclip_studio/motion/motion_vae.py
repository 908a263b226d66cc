"""An ACTOR-style transformer motion VAE (Petrovich et al. 2021), unconditional, with root motion.

Encoder: per-frame features (24 × 6D rotations + root offset) → linear → with two learned tokens
(μ, σ) prepended → transformer encoder; the outputs at the two tokens are the posterior statistics.
Decoder: sinusoidal time queries, one per frame, cross-attend to the latent (one memory token) →
transformer decoder → linear → per-frame features. Any clip length works; quality is best near the
trained length.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from avatarclip_studio.motion.config import MotionConfig
from avatarclip_studio.motion.dataset import FEATURES, motion_training_clips, sample_windows
from avatarclip_studio.motion.kinematics import joint_positions_from_matrices
from avatarclip_studio.motion.weights import MotionWeightsError, read_weights, save_weights, shipped
from avatarclip_studio.pipeline.events import Progress, Reporter
from avatarclip_studio.utils.checkpoints import build_checked
from avatarclip_studio.utils.rotations import rot6d_to_matrix

KIND = "motion_vae"
SHIPPED_NAME = "motion_vae.safetensors"


def sinusoidal(frames: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """(frames, dim) sinusoidal position encoding (Vaswani et al.)."""
    pos = torch.arange(frames, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    enc = torch.zeros(frames, dim, device=device)
    enc[:, 0::2] = torch.sin(pos * freq)
    enc[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return enc


class MotionVAE(nn.Module):
    """``encode(feats (B,T,FEATURES)) -> μ, log σ² (B,latent)``;
    ``decode(z (B,latent), T) -> (B,T,FEATURES)``."""

    def __init__(
        self,
        frames: int = 60,
        latent: int = 256,
        layers: int = 4,
        heads: int = 4,
        ff: int = 1024,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.arch = {
            "frames": frames,
            "latent": latent,
            "layers": layers,
            "heads": heads,
            "ff": ff,
            "dropout": dropout,
        }
        self.frames = frames
        self.latent = latent
        self.embed = nn.Linear(FEATURES, latent)
        self.stat_tokens = nn.Parameter(torch.randn(2, latent) * 0.02)

        def block() -> dict[str, object]:
            return {"d_model": latent, "nhead": heads, "dim_feedforward": ff, "dropout": dropout}

        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(**block(), activation="gelu", batch_first=True),  # type: ignore[arg-type]
            layers,
            enable_nested_tensor=False,
        )
        self.decoder = nn.TransformerDecoder(
            nn.TransformerDecoderLayer(**block(), activation="gelu", batch_first=True),  # type: ignore[arg-type]
            layers,
        )
        self.head = nn.Linear(latent, FEATURES)

    def encode(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, _ = features.shape
        x = self.embed(features) + sinusoidal(t, self.latent, features.device)
        x = torch.cat([self.stat_tokens.expand(b, -1, -1), x], dim=1)
        out = self.encoder(x)
        return out[:, 0], out[:, 1].clamp(-10.0, 5.0)

    def decode(self, z: torch.Tensor, frames: int | None = None) -> torch.Tensor:
        t = frames or self.frames
        queries = sinusoidal(t, self.latent, z.device).expand(len(z), -1, -1)
        return self.head(self.decoder(queries, z[:, None]))


def features_to_matrices(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, FEATURES) → rotations (B, T, 24, 3, 3) and root translation (B, T, 3)."""
    b, t, _ = features.shape
    return rot6d_to_matrix(features[..., :-3].reshape(b, t, 24, 6)), features[..., -3:]


def motion_joints(features: torch.Tensor) -> torch.Tensor:
    """Skeleton joint positions (B, T, 24, 3) of motion features (B, T, FEATURES), root motion included."""
    b, t, _ = features.shape
    rot, trans = features_to_matrices(features)
    return (
        joint_positions_from_matrices(rot.reshape(b * t, 24, 3, 3)).reshape(b, t, 24, 3) + trans[:, :, None]
    )


def load_motion_vae(path: str | Path | None = None, device: torch.device | str = "cpu") -> MotionVAE:
    """The VAE at ``path`` (default: shipped ``resources/motion/motion_vae.safetensors``), in eval mode."""
    path = path or shipped(SHIPPED_NAME)
    state, arch, _ = read_weights(path, KIND)
    if not isinstance(arch, dict):
        raise MotionWeightsError(f"{path}: its architecture metadata is not a table")
    sizes = {k: arch.get(k) for k in ("frames", "latent", "layers", "heads", "ff")}
    model = build_checked(lambda: MotionVAE(**arch), state, sizes, path, MotionWeightsError)
    return model.eval().to(device)


def train_motion_vae(
    out_path: str | Path,
    steps: int = 2500,
    seed: int = 0,
    reporter: Reporter | None = None,
    config: MotionConfig | None = None,
    batch_size: int = 16,
    kl_weight: float = 1e-4,
) -> MotionVAE:
    """Train on augmented windows of the action library (and mirrors) and write ``out_path``.

    Loss (ACTOR's terms): 6D rotation MSE + root translation MSE + joint-position MSE (skeleton FK,
    root motion included) + 10·feature-velocity MSE + ``kl_weight``·KL. AdamW 3e-4, warm-up, cosine decay.
    """
    config = config or MotionConfig()
    reporter = reporter or Reporter()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    clips = motion_training_clips(config.fps)
    model = MotionVAE(
        config.num_frames,
        config.vae_latent,
        config.vae_layers,
        config.vae_heads,
        config.vae_ff,
        config.vae_dropout,
    )
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=1e-4)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: min(1.0, (s + 1) / warmup) * (0.5 + 0.5 * math.cos(math.pi * min(s / max(steps, 1), 1.0))),
    )
    started = time.perf_counter()
    losses: dict[str, float] = {}
    model.train()
    for step in range(1, steps + 1):
        reporter.check()
        batch = sample_windows(clips, batch_size, config.num_frames, gen)
        mu, logvar = model.encode(batch)
        z = mu + torch.randn(mu.shape, generator=gen) * (0.5 * logvar).exp()
        rec = model.decode(z, config.num_frames)
        loss_rot = F.mse_loss(rec[..., :-3], batch[..., :-3])
        loss_trans = F.mse_loss(rec[..., -3:], batch[..., -3:])
        # joint positions on every other frame: the skeleton FK is a third of the step's cost
        loss_xyz = F.mse_loss(motion_joints(rec[:, ::2]), motion_joints(batch[:, ::2]))
        loss_vel = F.mse_loss(rec.diff(dim=1), batch.diff(dim=1))
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)).mean()
        loss = loss_rot + loss_trans + loss_xyz + 10.0 * loss_vel + kl_weight * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 10 == 0 or step == steps:
            losses = {
                "rotation": loss_rot.item(),
                "translation": loss_trans.item(),
                "joints": loss_xyz.item(),
                "velocity": loss_vel.item(),
                "kl": kl.item(),
                "total": loss.item(),
            }
            rate = step / (time.perf_counter() - started)
            reporter.emit(
                Progress(
                    "motion_vae",
                    step,
                    steps,
                    losses,
                    eta_seconds=(steps - step) / rate,
                    steps_per_second=rate,
                )
            )
    model.eval()
    save_weights(out_path, model, KIND, model.arch, {"steps": steps, "seed": seed, "final_losses": losses})
    return model
