"""Train the offline image tower into the frozen MiniLM text space (locked-tower contrastive, "LiT").

Loss per batch: symmetric InfoNCE between image features and the frozen text features of a true
caption, learnable temperature; images that share the same caption are all positives for it.
``train_offline_guidance`` is what ``avatarclip-studio train guidance`` calls.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.model import load_body_model
from avatarclip_studio.guidance.offline.captions import describe
from avatarclip_studio.guidance.offline.dataset import RenderSet, build_render_set, composite
from avatarclip_studio.guidance.offline.image_tower import INPUT_SIZE, ImageTower
from avatarclip_studio.guidance.offline.scenes import Scene
from avatarclip_studio.guidance.offline.text_tower import TextTower
from avatarclip_studio.paths import REPO_DIR
from avatarclip_studio.pipeline.events import Progress, Reporter
from avatarclip_studio.utils.atomic import atomic_path

STAGE = "train_guidance"
CAPTIONS_PER_RENDER = 4
DATA_VERSION = 1
"""Bump when scenes, captions or rendering change: cached render sets of older versions are rebuilt."""


def default_cache_dir() -> Path:
    return REPO_DIR / ".cache" / "guidance"


@dataclasses.dataclass(frozen=True)
class CaptionedSet:
    """Renders plus ``CAPTIONS_PER_RENDER`` caption ids per render into ``text_features (T, 384)``."""

    renders: RenderSet
    caption_ids: torch.Tensor
    """(N, K) long."""
    captions: list[str]
    text_features: torch.Tensor


def load_or_build_set(
    count: int, seed: int, cache_dir: Path, text: TextTower, reporter: Reporter | None = None
) -> CaptionedSet:
    """The captioned render set of ``(count, seed)``, from ``cache_dir`` when built before."""
    path = cache_dir / f"renders_v{DATA_VERSION}_{count}_{seed}_{INPUT_SIZE}.pt"
    if path.exists():
        data = torch.load(path, weights_only=True)
        scenes = [Scene(*fields) for fields in data["scenes"]]
        renders = RenderSet(images=data["images"], masks=data["masks"], scenes=scenes)
        return CaptionedSet(renders, data["caption_ids"], list(data["captions"]), data["text_features"])
    body = load_body_model(BodyConfig())
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        if reporter is not None:
            reporter.check()
            reporter.emit(
                Progress(
                    STAGE,
                    done,
                    total,
                    message=f"rendering training images ({time.monotonic() - started:.0f} s)",
                )
            )

    renders = build_render_set(body, count, INPUT_SIZE, seed, progress=progress)
    rng = np.random.default_rng(seed + 1)
    texts = [[describe(s, rng) for _ in range(CAPTIONS_PER_RENDER)] for s in renders.scenes]
    captions = sorted({t for row in texts for t in row})
    index = {t: i for i, t in enumerate(captions)}
    caption_ids = torch.tensor([[index[t] for t in row] for row in texts])
    if reporter is not None:
        reporter.log(STAGE, f"encoding {len(captions)} captions with the frozen text tower")
    text_features = text.encode(captions)
    data = {
        "images": renders.images,
        "masks": renders.masks,
        "scenes": [dataclasses.astuple(s) for s in renders.scenes],
        "caption_ids": caption_ids,
        "captions": captions,
        "text_features": text_features,
    }
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
    return CaptionedSet(renders, caption_ids, captions, text_features)


def augment(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal flip (captions never say left/right) and a shift of up to 6 px."""
    flip = torch.rand(images.shape[0], generator=gen) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    pad = 6
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    dx, dy = (int(v) for v in torch.randint(0, 2 * pad + 1, (2,), generator=gen))
    size = images.shape[-1]
    return padded[..., dy : dy + size, dx : dx + size]


def contrastive_loss(
    image_feats: torch.Tensor, text_feats: torch.Tensor, ids: torch.Tensor, scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric InfoNCE; ``ids (B,)`` caption ids — equal ids are positives of each other."""
    logits = scale * F.normalize(image_feats, dim=-1) @ text_feats.T
    same = (ids[:, None] == ids[None, :]).float()
    target = same / same.sum(1, keepdim=True)
    return 0.5 * (
        torch.sum(-target * logits.log_softmax(1), 1).mean()
        + torch.sum(-target * logits.T.log_softmax(1), 1).mean()
    )


def train_offline_guidance(
    out_path: str | Path,
    steps: int = 750,
    seed: int = 0,
    reporter: Reporter | None = None,
    renders: int = 5000,
    batch_size: int = 128,
    lr: float = 2e-3,
    cache_dir: Path | None = None,
    checkpoint_every: int = 0,
) -> dict[str, float]:
    """Render (or reuse) the training set, train the image tower, write safetensors to ``out_path``.

    The defaults reproduce the shipped weights (~25 min on a busy 2-core CPU, rendering included).
    Seeded: the same arguments give the same weights on the same machine. Returns final metrics
    (``loss``, ``temperature``, ``seconds``). ``checkpoint_every`` > 0 also writes the weights every so
    many steps, so a long run stopped early still leaves usable weights.
    """
    torch.manual_seed(seed)
    cache = cache_dir or default_cache_dir()
    text = TextTower()
    data = load_or_build_set(renders, seed, cache, text, reporter)
    model = ImageTower()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    other = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.05}, {"params": other, "weight_decay": 0.0}], lr=lr
    )
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + np.cos(np.pi * min(s, steps) / steps))
    )
    gen = torch.Generator().manual_seed(seed)
    n = data.renders.images.shape[0]
    started = time.monotonic()
    loss_value = float("nan")
    for step in range(steps):
        if reporter is not None:
            reporter.check()
        idx = torch.randint(0, n, (batch_size,), generator=gen)
        pick = torch.randint(0, CAPTIONS_PER_RENDER, (batch_size,), generator=gen)
        ids = data.caption_ids[idx, pick]
        images = augment(composite(data.renders.images[idx], data.renders.masks[idx], gen), gen)
        loss = contrastive_loss(
            model(images), data.text_features[ids], ids, model.logit_scale.exp().clamp(max=100.0)
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss_value = float(loss.detach())
        if checkpoint_every and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            _save(model, out_path, step + 1, seed, renders)
        if reporter is not None and (step % 10 == 0 or step == steps - 1):
            elapsed = time.monotonic() - started
            rate = (step + 1) / elapsed
            reporter.emit(
                Progress(
                    STAGE,
                    step + 1,
                    steps,
                    losses={"total": loss_value},
                    eta_seconds=(steps - step - 1) / rate,
                    steps_per_second=rate,
                    message=f"temperature {1 / float(model.logit_scale.detach().exp()):.4f}",
                )
            )
    return _save(model, out_path, steps, seed, renders) | {
        "loss": loss_value,
        "seconds": time.monotonic() - started,
    }


def _save(model: ImageTower, out_path: str | Path, steps: int, seed: int, renders: int) -> dict[str, float]:
    metadata = {
        "format": "avatarclip-offline-image-tower",
        "data_version": str(DATA_VERSION),
        "steps": str(steps),
        "seed": str(seed),
        "renders": str(renders),
        "input_size": str(INPUT_SIZE),
    }
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out_path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return {"temperature": 1 / float(model.logit_scale.detach().exp())}
