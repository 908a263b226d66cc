"""The shape code-book (METHOD.md §1): decoded prior samples and their image features.

Each entry is a body decoded from a latent of the shape VAE's N(0, I) prior, rendered grey from the
code-book views and encoded by the guidance model; the per-view features (normalised) are averaged and
normalised again. The mean shape (betas 0) is encoded the same way: it is the query's image anchor
``f_n``. A code-book belongs to one guidance model and one body: its cache file name says which, and
the features of a fixed probe image, stored with it, tell when that model's weights have changed.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from avatarclip_studio.body.io import npz_bytes
from avatarclip_studio.body.model import BodyModel
from avatarclip_studio.guidance.base import Guidance
from avatarclip_studio.guidance.fingerprint import probe_features, same_model
from avatarclip_studio.pipeline.events import Progress, Reporter
from avatarclip_studio.shape.config import ShapeConfig
from avatarclip_studio.shape.vae import ShapeVAE
from avatarclip_studio.shape.views import ViewRenderer
from avatarclip_studio.utils.atomic import atomic_write_bytes
from avatarclip_studio.utils.npz import NPZ_ERRORS

STAGE = "shape-codebook"
ENTRIES_PER_BATCH = 8
"""Bodies whose views are encoded in one guidance call."""


class CodebookError(ValueError):
    """A code-book cache file that is unreadable or belongs to another guidance model or body."""


@dataclass(frozen=True)
class ShapeCodebook:
    betas: torch.Tensor
    """(N,B) decoded shapes."""
    features: torch.Tensor
    """(N,D) normalised image features of each shape's views."""
    neutral_features: torch.Tensor
    """(D,) normalised image features of the mean shape: the query's anchor ``f_n``."""
    guidance_name: str
    body_name: str
    probe_features: torch.Tensor
    """(D,) the guidance model's features of :func:`probe_image`, to detect retrained weights."""

    def __len__(self) -> int:
        return int(self.betas.shape[0])

    def save(self, path: str | Path) -> None:
        arrays = {
            "betas": self.betas.cpu().numpy(),
            "features": self.features.cpu().numpy(),
            "neutral_features": self.neutral_features.cpu().numpy(),
            "guidance_name": np.array(self.guidance_name),
            "body_name": np.array(self.body_name),
            "probe_features": self.probe_features.cpu().numpy(),
        }
        atomic_write_bytes(path, npz_bytes(arrays))

    @classmethod
    def load(cls, path: str | Path) -> ShapeCodebook:
        try:
            with np.load(path, allow_pickle=False) as npz:
                return cls(
                    betas=torch.from_numpy(npz["betas"]),
                    features=torch.from_numpy(npz["features"]),
                    neutral_features=torch.from_numpy(npz["neutral_features"]),
                    guidance_name=str(npz["guidance_name"]),
                    body_name=str(npz["body_name"]),
                    probe_features=torch.from_numpy(npz["probe_features"]),
                )
        except NPZ_ERRORS as exc:
            raise CodebookError(f"cannot read shape code-book {path}: {exc}") from exc


@torch.no_grad()
def encode_views(guidance: Guidance, images: np.ndarray) -> torch.Tensor:
    """Views (E,K,H,W,3) uint8 of E bodies → (E,D) normalised mean of the per-view features."""
    e, k = images.shape[:2]
    pixels = torch.from_numpy(images.reshape(e * k, *images.shape[2:])).permute(0, 3, 1, 2).float() / 255.0
    feats = guidance.encode_image(pixels).reshape(e, k, -1).mean(1)
    return torch.nn.functional.normalize(feats, dim=-1).cpu()


@torch.no_grad()
def build_codebook(
    body: BodyModel,
    vae: ShapeVAE,
    guidance: Guidance,
    render: ViewRenderer,
    size: int,
    reporter: Reporter | None = None,
    seed: int = 0,
) -> ShapeCodebook:
    """Sample ``size`` latents, decode, render with ``render`` and encode with ``guidance``."""
    gen = torch.Generator().manual_seed(seed)
    device = body.v_template.device
    betas = vae.eval().sample(size, gen).to(device)
    neutral_vertices = body.rest(None)[0][0].cpu().numpy()
    neutral = encode_views(guidance, render(neutral_vertices)[None])[0]
    features = []
    start = time.monotonic()
    for first in range(0, size, ENTRIES_PER_BATCH):
        chunk = betas[first : first + ENTRIES_PER_BATCH]
        vertices = body.rest(chunk)[0].cpu().numpy()
        features.append(encode_views(guidance, np.stack([render(v) for v in vertices])))
        if reporter is not None:
            reporter.check()
            done = first + chunk.shape[0]
            rate = done / max(time.monotonic() - start, 1e-9)
            reporter.emit(
                Progress(
                    STAGE, done, size, eta_seconds=(size - done) / rate, steps_per_second=rate, message=""
                )
            )
    return ShapeCodebook(
        betas=betas.cpu(),
        features=torch.cat(features),
        neutral_features=neutral,
        guidance_name=guidance.name,
        body_name=body.name,
        probe_features=probe_features(guidance),
    )


def codebook_path(
    cache: Path, guidance_name: str, body_name: str, config: ShapeConfig, vae: ShapeVAE, seed: int
) -> Path:
    """Cache file of a code-book: named after the guidance model, plus a digest of what shaped it."""
    digest = hashlib.sha256()
    for value in (
        guidance_name,
        body_name,
        config.codebook_size,
        config.codebook_views,
        config.render_size,
        seed,
    ):
        digest.update(repr(value).encode())
    for tensor in vae.state_dict().values():
        digest.update(tensor.detach().cpu().numpy().tobytes())
    slug = "".join(c if c.isalnum() else "-" for c in guidance_name).strip("-")[:48]
    return cache / f"shape_codebook-{slug}-{digest.hexdigest()[:12]}.npz"


def _fits(codebook: ShapeCodebook, guidance: Guidance, body: BodyModel) -> bool:
    return (
        codebook.guidance_name == guidance.name
        and codebook.body_name == body.name
        and same_model(codebook.probe_features, guidance)
    )


def load_or_build_codebook(
    body: BodyModel,
    vae: ShapeVAE,
    guidance: Guidance,
    render: ViewRenderer,
    config: ShapeConfig,
    cache: Path,
    reporter: Reporter | None = None,
    seed: int = 0,
) -> ShapeCodebook:
    """The cached code-book for this guidance model, body, VAE and settings; built and cached if absent."""
    path = codebook_path(cache, guidance.name, body.name, config, vae, seed)
    if path.is_file():
        try:
            codebook: ShapeCodebook | None = ShapeCodebook.load(path)
        except CodebookError:  # damaged or from an older version: rebuilt below
            codebook = None
        if codebook is not None and _fits(codebook, guidance, body):
            return codebook
    codebook = build_codebook(body, vae, guidance, render, config.codebook_size, reporter, seed)
    codebook.save(path)
    return codebook
