"""A VPoser-like pose prior: a VAE over the 21 body-joint rotations (6D), 32-d latent.

Decoding samples of N(0, I) gives plausible body poses; the motion code-book is built from them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from avatarclip_studio.motion.dataset import pose_training_set
from avatarclip_studio.motion.kinematics import joint_positions_from_matrices
from avatarclip_studio.motion.weights import MotionWeightsError, read_weights, save_weights, shipped
from avatarclip_studio.pipeline.events import Progress, Reporter
from avatarclip_studio.utils.checkpoints import build_checked
from avatarclip_studio.utils.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_rot6d,
    rot6d_to_matrix,
)

BODY_JOINTS = slice(1, 22)
"""The 21 joints the prior models (pelvis orientation and the two hand joints excluded, as VPoser)."""
KIND = "pose_prior"
SHIPPED_NAME = "pose_prior.safetensors"


class PosePrior(nn.Module):
    """Encoder 126 → hidden → (μ, log σ²) ∈ R^latent; decoder latent → hidden → 126 (6D per joint)."""

    def __init__(self, latent_dim: int = 32, hidden: int = 512) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.hidden = hidden
        width = 21 * 6
        self.encoder = nn.Sequential(
            nn.Linear(width, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2)
        )
        self.to_stats = nn.Linear(hidden, 2 * latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, width),
        )

    def encode(self, poses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Axis-angle poses (N, 24, 3) → μ, log σ² (N, latent)."""
        x = matrix_to_rot6d(axis_angle_to_matrix(poses[:, BODY_JOINTS])).reshape(len(poses), -1)
        mu, logvar = self.to_stats(self.encoder(x)).chunk(2, dim=-1)
        return mu, logvar.clamp(-10.0, 5.0)

    def decode_matrices(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (N, latent) → body-joint rotations (N, 21, 3, 3)."""
        return rot6d_to_matrix(self.decoder(z).reshape(len(z), 21, 6))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (N, latent) → full axis-angle poses (N, 24, 3); pelvis and hands at zero."""
        poses = z.new_zeros(len(z), 24, 3)
        poses[:, BODY_JOINTS] = matrix_to_axis_angle(self.decode_matrices(z))
        return poses

    def sample(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``count`` random poses (count, 24, 3) from the prior N(0, I)."""
        z = torch.randn(count, self.latent_dim, generator=generator).to(next(self.parameters()).device)
        with torch.no_grad():
            return self.decode(z)


def _full(body: torch.Tensor) -> torch.Tensor:
    """Body-joint rotations (N, 21, 3, 3) → all 24 joints, identity elsewhere."""
    eye = torch.eye(3, dtype=body.dtype).expand(len(body), 24, 3, 3).clone()
    eye[:, BODY_JOINTS] = body
    return eye


def load_pose_prior(path: str | Path | None = None, device: torch.device | str = "cpu") -> PosePrior:
    """The prior at ``path`` (default: the shipped ``resources/motion/pose_prior.safetensors``)."""
    path = path or shipped(SHIPPED_NAME)
    state, arch, _ = read_weights(path, KIND)
    sizes: dict[str, Any] = {
        k: arch.get(k) if isinstance(arch, dict) else None for k in ("latent_dim", "hidden")
    }
    model = build_checked(lambda: PosePrior(**sizes), state, sizes, path, MotionWeightsError)
    return model.eval().to(device)


def train_pose_prior(
    out_path: str | Path,
    steps: int = 4000,
    seed: int = 0,
    reporter: Reporter | None = None,
    amass_dir: str | Path | None = None,
    latent_dim: int = 32,
    hidden: int = 256,
    batch_size: int = 256,
    num_random: int = 60000,
    kl_weight: float = 1e-3,
) -> PosePrior:
    """Train the prior (Adam 1e-3, cosine decay) and write it to ``out_path`` (safetensors).

    Loss: rotation-matrix MSE + 0.5·joint-position MSE (skeleton FK, so errors near the root that
    move whole limbs cost more) + ``kl_weight``·KL. Data: :func:`pose_training_set`.
    """
    reporter = reporter or Reporter()
    torch.manual_seed(seed)
    data = pose_training_set(np.random.default_rng(seed), num_random, amass_dir)
    model = PosePrior(latent_dim, hidden)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1), eta_min=1e-5)
    gen = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    losses: dict[str, float] = {}
    for step in range(1, steps + 1):
        reporter.check()
        batch = data[torch.randint(len(data), (batch_size,), generator=gen)]
        mu, logvar = model.encode(batch)
        z = mu + torch.randn(mu.shape, generator=gen) * (0.5 * logvar).exp()
        rec = model.decode_matrices(z)
        target = batch[:, BODY_JOINTS]
        target_rot = axis_angle_to_matrix(target)
        loss_rot = F.mse_loss(rec, target_rot)
        loss_joints = F.mse_loss(
            joint_positions_from_matrices(_full(rec)), joint_positions_from_matrices(_full(target_rot))
        )
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)).mean()
        loss = loss_rot + 0.5 * loss_joints + kl_weight * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 25 == 0 or step == steps:
            losses = {
                "rotation": loss_rot.item(),
                "joints": loss_joints.item(),
                "kl": kl.item(),
                "total": loss.item(),
            }
            rate = step / (time.perf_counter() - started)
            reporter.emit(
                Progress(
                    "pose_prior",
                    step,
                    steps,
                    losses,
                    eta_seconds=(steps - step) / rate,
                    steps_per_second=rate,
                )
            )
    model.eval()
    info = {
        "steps": steps,
        "seed": seed,
        "data": "amass" if amass_dir else "random+library",
        "final_losses": losses,
    }
    save_weights(out_path, model, KIND, {"latent_dim": latent_dim, "hidden": hidden}, info)
    return model
