"""Train the offline image tower into the frozen MiniLM text space (locked-tower contrastive, "LiT").

Loss per batch: symmetric InfoNCE between image features and the frozen text features of a true
caption, learnable temperature; images that share the same caption are all positives for it.
``train_offline_guidance`` is what ``avatarclip-studio train guidance`` calls.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import safe_open, save_file
from torch.optim.lr_scheduler import LambdaLR

from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.model import load_body_model
from avatarclip_studio.guidance.offline.captions import describe
from avatarclip_studio.guidance.offline.dataset import RenderSet, build_render_set, composite, composite_float
from avatarclip_studio.guidance.offline.image_tower import INPUT_SIZE, ImageTower
from avatarclip_studio.guidance.offline.model import FORMAT, load_image_tower
from avatarclip_studio.guidance.offline.region_batches import VARIANTS, load_or_build_region_set, region_batch
from avatarclip_studio.guidance.offline.scenes import Scene
from avatarclip_studio.guidance.offline.text_tower import TextTower
from avatarclip_studio.paths import REPO_DIR
from avatarclip_studio.pipeline.events import Progress, Reporter
from avatarclip_studio.utils.atomic import atomic_path

STAGE = "train_guidance"
CAPTIONS_PER_RENDER = 4
DATA_VERSION = 1
"""Bump when scenes, captions or rendering change: cached render sets of older versions are rebuilt."""
REGION_STEPS = 300
"""Region-contrastive fine-tuning steps after the whole-scene stage (the shipped weights' setting)."""
REGION_RENDERS = 1500
REGION_LR = 5e-4
REGION_WEIGHT = 1.0
"""Weight of the region-contrastive InfoNCE next to the whole-scene one in the fine-tuning stage."""


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
    image_feats: torch.Tensor, text_feats: torch.Tensor, positives: torch.Tensor, scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric InfoNCE over ``image_feats (B,D)`` and ``text_feats (B,D)``.

    ``positives (B,B)`` bool: text j is true of image i (the diagonal must be); all true pairs share
    the target mass, so a caption that fits several images in the batch is not pushed off any of them.
    """
    logits = scale * F.normalize(image_feats, dim=-1) @ text_feats.T
    target = positives.float()
    return 0.5 * (
        torch.sum(-target / target.sum(1, keepdim=True) * logits.log_softmax(1), 1).mean()
        + torch.sum(-target.T / target.T.sum(1, keepdim=True) * logits.T.log_softmax(1), 1).mean()
    )


def same_caption(ids: torch.Tensor) -> torch.Tensor:
    """(B,B) positives of caption ids ``(B,)``: images that share a caption are all positives for it."""
    return ids[:, None] == ids[None, :]


def _optimizer(model: ImageTower, lr: float, steps: int) -> tuple[torch.optim.Optimizer, LambdaLR]:
    """AdamW (weight decay on matrices only), linear warm-up over 5% of the steps, then cosine decay."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    other = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.05}, {"params": other, "weight_decay": 0.0}], lr=lr
    )
    warmup = max(1, steps // 20)
    sched = LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + np.cos(np.pi * min(s, steps) / steps))
    )
    return opt, sched


def _run(
    model: ImageTower,
    steps: int,
    lr: float,
    batch_loss: Callable[[], torch.Tensor],
    reporter: Reporter | None,
    label: str,
    checkpoint: Callable[[int], object] | None,
    checkpoint_every: int,
) -> float:
    """``steps`` optimiser steps on ``batch_loss()``; returns the last loss."""
    opt, sched = _optimizer(model, lr, steps)
    started = time.monotonic()
    loss_value = float("nan")
    for step in range(steps):
        if reporter is not None:
            reporter.check()
        loss = batch_loss()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss_value = float(loss.detach())
        due = checkpoint_every and (step + 1) % checkpoint_every == 0 and step + 1 < steps
        if checkpoint is not None and due:
            checkpoint(step + 1)
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
                    message=f"{label}; temperature {1 / float(model.logit_scale.detach().exp()):.4f}",
                )
            )
    return loss_value


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
    region_steps: int = REGION_STEPS,
    region_renders: int = REGION_RENDERS,
    region_lr: float = REGION_LR,
    init_weights: str | Path | None = None,
) -> dict[str, float]:
    """Render (or reuse) the training sets, train the image tower, write safetensors to ``out_path``.

    Two stages: ``steps`` of whole-scene captions from scratch, then ``region_steps`` of fine-tuning
    where half of each batch is region-contrastive (``region_batches``: same render, only the shirt or
    trouser colour changed), so that gradients colour the named garment rather than the whole body.
    ``init_weights`` skips the first stage and fine-tunes those weights instead (the second stage
    depends only on its input weights and ``seed``, so fine-tuning the stage-one weights gives the same
    result either way). The defaults reproduce the shipped weights (~50 min on a busy 2-core CPU,
    rendering included). Seeded: the same arguments give the same weights on the same machine.
    Returns final metrics (``loss``, ``temperature``, ``seconds``). ``checkpoint_every`` > 0 also writes
    the weights every so many steps of either stage, so a long run stopped early leaves usable weights.
    """
    started = time.monotonic()
    torch.manual_seed(seed)  # before the text tower: building it draws from the global generator
    cache = cache_dir or default_cache_dir()
    text = TextTower()
    data = load_or_build_set(renders, seed, cache, text, reporter)
    n = data.renders.images.shape[0]

    def scene_batch(size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Composited, augmented renders ``(size,3,S,S)``, their caption features and positives."""
        idx = torch.randint(0, n, (size,), generator=gen)
        pick = torch.randint(0, CAPTIONS_PER_RENDER, (size,), generator=gen)
        ids = data.caption_ids[idx, pick]
        images = augment(composite(data.renders.images[idx], data.renders.masks[idx], gen), gen)
        return images, data.text_features[ids], same_caption(ids)

    if init_weights is None:
        model = ImageTower()
        gen = torch.Generator().manual_seed(seed)

        def whole_scene_loss() -> torch.Tensor:
            images, text_feats, positives = scene_batch(batch_size, gen)
            return contrastive_loss(model(images), text_feats, positives, _scale(model))

        loss_value = _run(
            model,
            steps,
            lr,
            whole_scene_loss,
            reporter,
            "whole-scene captions",
            lambda step: _save(model, out_path, step, 0, seed, renders),
            checkpoint_every,
        )
        done_steps = steps
    else:
        model = load_image_tower(init_weights).train().requires_grad_(True)
        done_steps = int(_metadata(init_weights).get("steps", "0"))
    if region_steps > 0:
        regions = load_or_build_region_set(
            lambda: load_body_model(BodyConfig()),
            region_renders,
            INPUT_SIZE,
            seed,
            cache,
            text,
            _render_progress(reporter, "rendering region-recolourable images"),
        )
        torch.manual_seed(seed + 1)
        gen = torch.Generator().manual_seed(seed + 1)
        rng = np.random.default_rng(seed + 1)
        groups = max(1, batch_size // (2 * VARIANTS))

        def region_loss() -> torch.Tensor:
            images, text_feats, positives = scene_batch(batch_size - groups * VARIANTS, gen)
            fg, masks, caption_ids, region_pos = region_batch(regions, groups, gen, rng)
            region_images = augment(composite_float(fg, masks, gen), gen)
            feats = model(torch.cat([images, region_images]))
            scale = _scale(model)
            whole = contrastive_loss(feats[: len(images)], text_feats, positives, scale)
            regional = contrastive_loss(
                feats[len(images) :], regions.text_features[caption_ids], region_pos, scale
            )
            return whole + REGION_WEIGHT * regional

        loss_value = _run(
            model,
            region_steps,
            region_lr,
            region_loss,
            reporter,
            "region-contrastive fine-tuning",
            lambda step: _save(model, out_path, done_steps, step, seed, renders),
            checkpoint_every,
        )
    return _save(model, out_path, done_steps, region_steps, seed, renders) | {
        "loss": loss_value,
        "seconds": time.monotonic() - started,
    }


def _scale(model: ImageTower) -> torch.Tensor:
    return model.logit_scale.exp().clamp(max=100.0)


def _render_progress(reporter: Reporter | None, message: str) -> Callable[[int, int, float], None]:
    def progress(done: int, total: int, seconds: float) -> None:
        if reporter is not None:
            reporter.check()
            reporter.emit(Progress(STAGE, done, total, message=f"{message} ({seconds:.0f} s)"))

    return progress


def _metadata(path: str | Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as fh:
        return fh.metadata() or {}


def _save(
    model: ImageTower, out_path: str | Path, steps: int, region_steps: int, seed: int, renders: int
) -> dict[str, float]:
    metadata = {
        "format": FORMAT,
        "data_version": str(DATA_VERSION),
        "steps": str(steps),
        "region_steps": str(region_steps),
        "seed": str(seed),
        "renders": str(renders),
        "input_size": str(INPUT_SIZE),
    }
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out_path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return {"temperature": 1 / float(model.logit_scale.detach().exp())}
