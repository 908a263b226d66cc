"""Region-contrastive batches: one render recoloured so that only the shirt or only the trousers differ.

Why: trained on whole-scene captions alone, the image tower learned *which* colours an image holds but
bound them to garments weakly, so its gradients coloured the whole body. Here each group is one
body, pose, camera and light in four colourings — shirt ``a`` / trousers ``b``, the same swapped, and
on a grey body only the shirt or only the trousers in ``a`` — each captioned with one garment's colour.
"red shirt" must then pick the red-shirt image over the red-trousers one in the same batch.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from avatarclip_studio.body.model import BodyModel
from avatarclip_studio.guidance.base import APPEARANCE_TEMPLATE
from avatarclip_studio.guidance.offline.captions import COLOR_WORDS, NOUNS, SHIRT, TROUSERS
from avatarclip_studio.guidance.offline.dataset import recolor, render_region_maps
from avatarclip_studio.guidance.offline.scenes import (
    COLORS,
    GREY_ALBEDO,
    HAIR_COLORS,
    REGIONS,
    SKIN_TONES,
    Scene,
    jitter_color,
    sample_scene,
)
from avatarclip_studio.guidance.offline.text_tower import TextTower
from avatarclip_studio.utils.atomic import atomic_path

GARMENTS = ("shirt", "trousers")
COLOR_NAMES = tuple(COLORS)
ON_GREY_COLORS = tuple(c for c in COLOR_NAMES if c not in ("white", "grey"))
"""Colours shown on an otherwise grey body: white or grey garments would not stand out from it."""
VARIANTS = 4
"""Colourings per group: (a, b), (b, a), (a, grey), (grey, a) as (shirt, trousers)."""
DATA_VERSION = 1
"""Bump when region renders or captions change: cached region sets of older versions are rebuilt."""


def concept(garment: str, color: str) -> int:
    """Id of "a ``color`` ``garment``": garment-major over ``COLOR_NAMES``."""
    return GARMENTS.index(garment) * len(COLOR_NAMES) + COLOR_NAMES.index(color)


def garment_captions() -> tuple[list[str], list[int]]:
    """Every training phrasing naming one garment's colour, and the concept id of each."""
    texts, concepts = [], []
    for garment, frames in (("shirt", SHIRT["train"]), ("trousers", TROUSERS["train"])):
        for color in COLOR_NAMES:
            for word in COLOR_WORDS[color]["train"]:
                for frame in frames:
                    detail = frame.format(word) if garment == "shirt" else "wearing " + frame.format(word)
                    for noun in NOUNS["train"]:
                        article = "an" if noun[0] in "aeiou" else "a"
                        text = f"{article} {noun} {detail}"
                        for caption in (text, APPEARANCE_TEMPLATE.format(text)):
                            texts.append(caption)
                            concepts.append(concept(garment, color))
    return texts, concepts


@dataclasses.dataclass(frozen=True)
class RegionSet:
    """Recolourable renders and the garment captions' frozen text features."""

    maps: torch.Tensor
    """(N,R,S,S) uint8 shading per region (see ``dataset.render_region_maps``)."""
    masks: torch.Tensor
    """(N,1,S,S) uint8 0/1."""
    scenes: list[Scene]
    caption_concepts: torch.Tensor
    """(T,) long concept id of each caption."""
    text_features: torch.Tensor
    """(T, 384) L2-normalised."""


def load_or_build_region_set(
    body: Callable[[], BodyModel],
    count: int,
    size: int,
    seed: int,
    cache_dir: Path,
    text: TextTower,
    progress: Callable[[int, int, float], None] | None = None,
    batch: int = 32,
) -> RegionSet:
    """The region set of ``(count, seed)``, from ``cache_dir`` when built before; ``body`` loads the body."""
    path = cache_dir / f"regions_v{DATA_VERSION}_{count}_{seed}_{size}.pt"
    if path.exists():
        data = torch.load(path, weights_only=True)
        scenes = [Scene(*fields) for fields in data["scenes"]]
        return RegionSet(data["maps"], data["masks"], scenes, data["concepts"], data["text_features"])
    rng = np.random.default_rng(seed)
    scenes = [sample_scene(rng, textured=True) for _ in range(count)]
    model = body()
    started = time.monotonic()
    maps, masks = [], []
    for start in range(0, count, batch):
        shading, alpha = render_region_maps(model, scenes[start : start + batch], size, seed * 7919 + start)
        maps.append((shading * 255).round().to(torch.uint8))
        masks.append(alpha.to(torch.uint8))
        if progress is not None:
            progress(min(start + batch, count), count, time.monotonic() - started)
    captions, concepts = garment_captions()
    data = {
        "maps": torch.cat(maps),
        "masks": torch.cat(masks),
        "scenes": [dataclasses.astuple(s) for s in scenes],
        "concepts": torch.tensor(concepts),
        "text_features": text.encode(captions),
    }
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
    return RegionSet(data["maps"], data["masks"], scenes, data["concepts"], data["text_features"])


def _palette(scene: Scene, shirt: str | None, trousers: str | None, rng: np.random.Generator) -> np.ndarray:
    """(R,3) region colours; a ``None`` garment means a grey body with only the other garment coloured."""
    if shirt is None or trousers is None:
        palette = np.full((len(REGIONS), 3), GREY_ALBEDO, dtype=np.float32)
    else:
        assert scene.skin and scene.shoes and scene.hair
        palette = np.stack(
            [
                jitter_color(SKIN_TONES[scene.skin], rng),
                np.zeros(3, np.float32),
                np.zeros(3, np.float32),
                jitter_color(COLORS[scene.shoes], rng),
                jitter_color(HAIR_COLORS[scene.hair], rng),
            ]
        )
    for garment, color in (("shirt", shirt), ("trousers", trousers)):
        if color is not None:
            palette[REGIONS.index(garment)] = jitter_color(COLORS[color], rng)
    return palette


def region_batch(
    data: RegionSet, groups: int, gen: torch.Generator, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``groups`` × ``VARIANTS`` recoloured renders and one garment caption each.

    Returns ``fg (B,3,S,S)`` float foreground in [0, 1], ``masks (B,1,S,S)`` uint8, ``caption_ids (B,)``
    into ``data.text_features``, and ``positives (B,B)`` bool: caption j is true of image i.
    """
    idx = torch.randint(0, data.maps.shape[0], (groups,), generator=gen)
    palettes, image_concepts, chosen = [], [], []
    for i in idx.tolist():
        a = ON_GREY_COLORS[int(rng.integers(len(ON_GREY_COLORS)))]
        b = str(rng.choice([c for c in COLOR_NAMES if c != a]))
        for shirt, trousers in ((a, b), (b, a), (a, None), (None, a)):
            palettes.append(_palette(data.scenes[i], shirt, trousers, rng))
            named = [concept(g, c) for g, c in (("shirt", shirt), ("trousers", trousers)) if c is not None]
            image_concepts.append(named + [-1] * (2 - len(named)))
            chosen.append(named[int(rng.integers(len(named)))])
    rows = idx.repeat_interleave(VARIANTS)
    fg = recolor(data.maps[rows].float() / 255.0, torch.as_tensor(np.stack(palettes))).clamp(0, 1)
    target = torch.tensor(chosen)
    per_image = torch.tensor(image_concepts)
    positives = (per_image[:, :, None] == target[None, None, :]).any(1)
    options = [torch.nonzero(data.caption_concepts == c).flatten() for c in chosen]
    caption_ids = torch.stack([o[torch.randint(0, len(o), (1,), generator=gen)] for o in options]).flatten()
    return fg, data.masks[rows], caption_ids, positives
