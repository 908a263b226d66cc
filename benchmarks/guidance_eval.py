"""Measure a guidance model on held-out renders of the project's body.

1. R-precision: each held-out render's caption ranked among the captions of 50 renders (top-1, top-5),
   with training phrasings and with held-out phrasings/synonyms ("crimson", "slacks", "crouching"...).
2. Zero-shot attribute accuracy: shirt colour (11 words), pose (12), tall vs short.
3. Gradient usefulness: per-vertex colours of a grey body optimised through a differentiable point
   splat toward "a person in a red shirt" (and "... in blue trousers"): are the right regions coloured?

Usage: ``python benchmarks/guidance_eval.py [--backend offline|clip|auto] [--renders 200] [--out FILE.md]``
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.model import BodyModel, load_body_model
from avatarclip_studio.body.skeleton import JOINT_INDEX
from avatarclip_studio.guidance.base import Guidance
from avatarclip_studio.guidance.config import GuidanceConfig
from avatarclip_studio.guidance.offline.captions import COLOR_WORDS, POSE_WORDS, describe
from avatarclip_studio.guidance.offline.dataset import build_render_set, random_backgrounds
from avatarclip_studio.guidance.offline.scenes import COLORS, POSES, Scene, pose_vector, region_labels
from avatarclip_studio.guidance.offline.splat import lambert, orbit_cameras, splat, vertex_normals
from avatarclip_studio.guidance.select import load_guidance
from avatarclip_studio.utils.atomic import atomic_write_text

EVAL_SEED = 424242  # never used for training (training uses seeds < 1000)
GROUP = 50


def r_precision(image_feats: torch.Tensor, text_feats: torch.Tensor) -> tuple[float, float]:
    """Top-1 / top-5 rate of the true caption (same index) among groups of ``GROUP`` captions."""
    hits1 = hits5 = total = 0
    for start in range(0, image_feats.shape[0] - GROUP + 1, GROUP):
        sims = image_feats[start : start + GROUP] @ text_feats[start : start + GROUP].T
        rank = (sims > sims.diag()[:, None]).sum(1)
        hits1 += int((rank < 1).sum())
        hits5 += int((rank < 5).sum())
        total += GROUP
    return hits1 / total, hits5 / total


def zero_shot(
    guidance: Guidance, image_feats: torch.Tensor, labels: list[str], prompts: dict[str, str]
) -> float:
    """Accuracy of picking each image's label by its best-matching prompt."""
    names = list(prompts)
    text = guidance.encode_text([prompts[n] for n in names])
    pred = (image_feats @ text.T).argmax(1)
    return float(np.mean([names[int(p)] == label for p, label in zip(pred, labels, strict=True)]))


def heldout_renders(body: BodyModel, count: int) -> tuple[torch.Tensor, list[Scene]]:
    """Held-out renders over white / noise / checkerboard backgrounds: images (N,3,96,96) in [0, 1]."""
    renders = build_render_set(body, count, 96, EVAL_SEED, textured_fraction=1.0)
    alpha = renders.masks.float()
    background = random_backgrounds(count, 96, torch.Generator().manual_seed(EVAL_SEED))
    return renders.images.float() / 255 * alpha + background * (1 - alpha), renders.scenes


def retrieval_metrics(guidance: Guidance, body: BodyModel, count: int) -> dict[str, float]:
    images, scenes = heldout_renders(body, count)
    with torch.no_grad():
        feats = torch.cat([guidance.encode_image(images[i : i + 64]) for i in range(0, count, 64)])
    rng = np.random.default_rng(EVAL_SEED)
    out: dict[str, float] = {}
    for split in ("train", "heldout"):
        for full in (True, False):
            text = guidance.encode_text([describe(s, rng, split, full=full) for s in scenes])
            top1, top5 = r_precision(feats, text)
            key = f"{split} phrasings, {'full' if full else 'short'} captions"
            out[f"R@1 {key}"], out[f"R@5 {key}"] = top1, top5
    shirt = {c: f"a person in a {COLOR_WORDS[c]['heldout'][0]} shirt" for c in COLORS}
    out["shirt colour accuracy (11 held-out colour words)"] = zero_shot(
        guidance, feats, [s.shirt or "" for s in scenes], shirt
    )
    poses = {p: f"a person {POSE_WORDS[p]['heldout'][0]}" for p in POSES}
    out["pose accuracy (12 poses, held-out phrasings)"] = zero_shot(
        guidance, feats, [s.pose for s in scenes], poses
    )
    tall = [i for i, s in enumerate(scenes) if abs(s.betas[0]) > 1.0]
    heights = {"high": "a tall person", "low": "a short person"}
    labels = ["high" if scenes[i].betas[0] > 0 else "low" for i in tall]
    out[f"tall vs short accuracy ({len(tall)} renders)"] = zero_shot(guidance, feats[tall], labels, heights)
    return out


def optimise_colours(
    guidance: Guidance, body: BodyModel, prompt: str, steps: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-vertex colours (V,3) of a standing grey body optimised toward ``prompt``; and region labels."""
    gen = torch.Generator().manual_seed(seed)
    rest_v, rest_j = body.rest()
    labels = region_labels(body.lbs_weights, rest_v[0], rest_j[0, JOINT_INDEX["head"]])
    with torch.no_grad():
        verts = body(body_pose=pose_vector("standing", False, np.zeros((23, 3)))[None]).vertices
        normals = vertex_normals(verts, body.faces)
    logits = torch.zeros(1, verts.shape[1], 3, requires_grad=True)  # sigmoid(0) = 0.5: plain grey
    opt = torch.optim.Adam([logits], lr=0.05)
    text = guidance.encode_text(prompt)
    views = 4
    for _ in range(steps):
        azimuth = (torch.rand(views, generator=gen) * 2 - 1) * math.pi / 2
        cams = orbit_cameras(
            azimuth,
            torch.randn(views, generator=gen) * 0.2,
            torch.full((views,), 2.2),
            torch.tensor([[0.0, -0.05, 0.0]]).expand(views, 3),
        )
        shade = lambert(
            normals.expand(views, -1, -1), F.normalize(cams.eye, dim=-1), torch.full((views,), 0.25)
        )
        rgb, alpha = splat(
            verts.expand(views, -1, -1), torch.sigmoid(logits) * shade, cams, guidance.input_size
        )
        image = rgb + random_backgrounds(views, guidance.input_size, gen) * (1 - alpha)
        loss = guidance.clip_loss(image, text).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return torch.sigmoid(logits.detach())[0], labels


def redness(colors: torch.Tensor) -> torch.Tensor:
    return colors[:, 0] - 0.5 * (colors[:, 1] + colors[:, 2])


def blueness(colors: torch.Tensor) -> torch.Tensor:
    return colors[:, 2] - 0.5 * (colors[:, 0] + colors[:, 1])


def gradient_metrics(guidance: Guidance, body: BodyModel, steps: int) -> dict[str, float]:
    out: dict[str, float] = {}
    colors, labels = optimise_colours(guidance, body, "a person in a red shirt", steps, seed=1)
    shirt, legs = labels == 1, labels == 2
    out["'red shirt': redness of shirt vertices"] = float(redness(colors[shirt]).mean())
    out["'red shirt': redness of trouser vertices"] = float(redness(colors[legs]).mean())
    colors, labels = optimise_colours(guidance, body, "a person wearing blue trousers", steps, seed=2)
    out["'blue trousers': blueness of trouser vertices"] = float(blueness(colors[legs]).mean())
    out["'blue trousers': blueness of shirt vertices"] = float(blueness(colors[shirt]).mean())
    return out


def main(argv: list[str] | None = None) -> None:
    from machine import machine  # benchmarks/machine.py, next to this script (the tests import this file)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="offline", choices=["auto", "clip", "offline"])
    parser.add_argument("--renders", type=int, default=200, help="held-out renders (a multiple of 50)")
    parser.add_argument("--steps", type=int, default=60, help="colour optimisation steps")
    parser.add_argument("--out", type=Path, help="also write the figures as markdown here")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    guidance = load_guidance(GuidanceConfig(backend=args.backend))
    body = load_body_model(BodyConfig())
    started = time.monotonic()
    metrics = retrieval_metrics(guidance, body, args.renders)
    retrieval_s = time.monotonic() - started
    started = time.monotonic()
    metrics |= gradient_metrics(guidance, body, args.steps)
    gradient_s = time.monotonic() - started
    lines = [
        f"Guidance model: **{guidance.name}**; {args.renders} held-out renders (seed {EVAL_SEED}), groups of "
        f"{GROUP} captions; colour optimisation {args.steps} steps × 4 views.",
        f"Machine: {machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; retrieval {retrieval_s:.0f} s, optimisation {gradient_s:.0f} s.",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {k} | {v:.3f} |" for k, v in metrics.items()),
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        atomic_write_text(args.out, f"# Guidance — measured figures\n\n{text}\n")


if __name__ == "__main__":
    main()
