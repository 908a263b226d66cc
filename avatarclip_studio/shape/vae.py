"""Shape VAE (METHOD.md §1): a prior over realistic body shapes, sampled to build the code-book.

The original maps SMPL vertices (6890×3) → 8192 → latent 16 → 8192 → vertex offsets on the template.
Ours encodes the body's betas instead: the body's vertices are exactly ``v_template + shapedirs·β``,
so decoding betas *is* decoding offsets on the template (through the fixed linear shape space), while
the network stays ~100 kB instead of ~2.7 GB. The reconstruction loss is the original's, in vertex
space: ``‖shapedirs·(β̂ − β)‖²`` summed over vertices (m²), computed through the shape space's Gram
matrix — so betas that barely move the surface barely count. It trains on the betas of realistic
bodies the body file stores (``BodyModel.sample_betas``), or on SMPL's N(0, I) prior for files that
have none. Unlike the original (two purely linear layers each way) an ELU sits between the layers: a
linear VAE over an already linear shape space could only learn a Gaussian.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from torch import nn

from avatarclip_studio.body.model import BodyModel
from avatarclip_studio.paths import resource_path
from avatarclip_studio.pipeline.events import Progress, Reporter
from avatarclip_studio.shape.config import ShapeConfig
from avatarclip_studio.utils.atomic import atomic_path
from avatarclip_studio.utils.checkpoints import build_checked, load_weights_only

STAGE = "shape-vae"
BATCH = 256
PRIOR_SAMPLES = 4096
"""Training set size drawn from N(0, I) for bodies without stored samples."""


class ShapeVAEError(ValueError):
    """Shape VAE weights that are missing, unreadable or made for another body."""


class ShapeVAE(nn.Module):
    """betas (N,B) → hidden → latent (N,L) → hidden → betas (N,B); fully connected, ELU between."""

    def __init__(self, num_betas: int, hidden_dim: int, latent_dim: int, body_name: str = "") -> None:
        super().__init__()
        self.num_betas, self.hidden_dim, self.latent_dim = num_betas, hidden_dim, latent_dim
        self.body_name = body_name
        """Name of the body model whose shape space the VAE was trained on."""
        self.encoder = nn.Sequential(
            nn.Linear(num_betas, hidden_dim), nn.ELU(), nn.Linear(hidden_dim, 2 * latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.ELU(), nn.Linear(hidden_dim, num_betas)
        )

    def encode(self, betas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance, each (N,L)."""
        mu, logvar = self.encoder(betas).chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 6.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (N,L) → betas (N,B)."""
        decoded: torch.Tensor = self.decoder(z)
        return decoded

    def forward(
        self, betas: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction (N,B) of a reparameterised posterior sample, with its mu and logvar (N,L)."""
        mu, logvar = self.encode(betas)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return self.decode(mu + eps * (0.5 * logvar).exp()), mu, logvar

    @torch.no_grad()
    def sample(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Betas (count,B) decoded from latents drawn from the N(0, I) prior."""
        z = torch.randn(count, self.latent_dim, generator=generator)  # drawn on the CPU: seeded anywhere
        return self.decode(z.to(next(self.parameters()).device))

    def save(self, path: str | Path) -> None:
        """Weights and sizes, readable with ``torch.load(weights_only=True)``; written atomically."""
        payload = {
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
            "num_betas": self.num_betas,
            "hidden_dim": self.hidden_dim,
            "latent_dim": self.latent_dim,
            "body_name": self.body_name,
        }
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    @classmethod
    def load(cls, path: str | Path) -> ShapeVAE:
        path = Path(path)
        if not path.is_file():
            raise ShapeVAEError(
                f"shape VAE weights {path} do not exist; train them with `avatarclip-studio train shape-vae`"
            )
        payload = load_weights_only(path, ShapeVAEError, "shape VAE weights")
        keys = ("num_betas", "hidden_dim", "latent_dim", "body_name", "state_dict")
        if not isinstance(payload, dict) or any(k not in payload for k in keys):
            raise ShapeVAEError(f"{path}: not shape VAE weights (expected the keys {', '.join(keys)})")
        sizes = {k: payload[k] for k in keys[:3]}
        return build_checked(
            lambda: cls(
                sizes["num_betas"], sizes["hidden_dim"], sizes["latent_dim"], str(payload["body_name"])
            ),
            payload["state_dict"],
            sizes,
            path,
            ShapeVAEError,
        )


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) ‖ N(0, I)) per sample, (N,)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def training_betas(body: BodyModel, seed: int = 0) -> torch.Tensor:
    """(N,B) shapes to learn: the body's stored realistic samples, else SMPL's N(0, I) prior."""
    if body.sample_betas.shape[0] > 0:
        return body.sample_betas.detach().cpu().float()
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(PRIOR_SAMPLES, body.num_betas, generator=gen)


def vertex_metric(body: BodyModel) -> torch.Tensor:
    """(B,B) ``L`` with ``‖shapedirs·d‖² = ‖d·L‖²`` for betas offsets ``d`` (N,B): vertex-space error."""
    dirs = body.shapedirs.detach().cpu().double().reshape(-1, body.num_betas)
    gram = dirs.T @ dirs + 1e-9 * torch.eye(body.num_betas, dtype=torch.float64)
    return torch.linalg.cholesky(gram).float()


def train_shape_vae(
    body: BodyModel,
    config: ShapeConfig,
    out_path: str | Path | None = None,
    steps: int | None = None,
    reporter: Reporter | None = None,
    seed: int = 0,
) -> ShapeVAE:
    """Train a shape VAE on ``body``'s shape distribution (CPU, seeded) and save it to ``out_path``.

    Loss: ``‖shapedirs·(β̂ − β)‖² + kl_weight·KL`` (see the module docstring), Adam 1e-3 with cosine
    decay to 5%, batch 256. A few seconds per thousand steps on a CPU.
    """
    steps = config.vae_steps if steps is None else steps
    gen = torch.Generator().manual_seed(seed)
    data = training_betas(body, seed)
    metric = vertex_metric(body)
    with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching the global RNG
        torch.manual_seed(seed)
        vae = ShapeVAE(body.num_betas, config.hidden_dim, config.latent_dim, body.name)
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * s / steps))
    )
    start = time.monotonic()
    report_every = max(1, steps // 50)
    for step in range(1, steps + 1):
        batch = data[torch.randint(0, data.shape[0], (BATCH,), generator=gen)]
        recon, mu, logvar = vae(batch, generator=gen)
        rec = ((recon - batch) @ metric).pow(2).sum(-1).mean()
        kl = kl_divergence(mu, logvar).mean()
        loss = rec + config.kl_weight * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if reporter is not None and (step % report_every == 0 or step == steps):
            reporter.check()
            rate = step / max(time.monotonic() - start, 1e-9)
            losses = {"reconstruction": float(rec), "kl": float(kl), "total": float(loss)}
            reporter.emit(
                Progress(STAGE, step, steps, losses, eta_seconds=(steps - step) / rate, steps_per_second=rate)
            )
    vae.eval()
    if out_path is not None:
        vae.save(out_path)
    return vae


def default_vae_path() -> Path:
    return resource_path("shape", "shape_vae.pt")


def load_shape_vae(
    body: BodyModel, config: ShapeConfig, cache: Path, reporter: Reporter | None = None
) -> ShapeVAE:
    """The configured or shipped VAE when it fits ``body``; else one trained for it, cached in ``cache``."""
    if config.vae_weights:
        vae = ShapeVAE.load(config.vae_weights)
        if vae.num_betas != body.num_betas:
            raise ShapeVAEError(
                f"shape VAE {config.vae_weights} encodes {vae.num_betas} betas, the body {body.name!r} has "
                f"{body.num_betas}; set body.num_betas to match or train a new VAE"
            )
        return vae
    shipped = default_vae_path()
    if shipped.is_file():
        vae = ShapeVAE.load(shipped)
        if (vae.body_name, vae.num_betas, vae.hidden_dim, vae.latent_dim) == (
            body.name,
            body.num_betas,
            config.hidden_dim,
            config.latent_dim,
        ):
            return vae
    slug = "".join(c if c.isalnum() else "-" for c in body.name)[:40]
    cached = cache / f"shape_vae-{slug}-b{body.num_betas}-h{config.hidden_dim}-l{config.latent_dim}.pt"
    if cached.is_file():
        return ShapeVAE.load(cached)
    return train_shape_vae(body, config, cached, reporter=reporter)
