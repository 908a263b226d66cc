"""Avatar-generation timings: NeuS init fit to the body template, and seconds per sculpt step.

    .venv/bin/python benchmarks/bench_sculpt.py [--preset preview] [--steps 24] [--threads 2] [--device cpu]
        [--precision auto|fp32|bf16]

The guidance is a random-weights ``clip.model.CLIP`` ViT-B/32 (no weights exist offline): the cost of
CLIP's forward/backward is what matters here, not what it says. The timed steps are the first ones after
the template fit (two warm-up steps aside), where the surface is widest (s grows while sculpting) and a
step is costliest. Writes nothing; prints the machine and a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from clip.model import CLIP
from machine import machine  # benchmarks/machine.py, next to this script

from avatarclip_studio.body.model import default_body_path
from avatarclip_studio.body.skeleton import JOINT_INDEX
from avatarclip_studio.config import preset
from avatarclip_studio.device import select_compute
from avatarclip_studio.guidance.clip_model import ClipGuidance
from avatarclip_studio.neus import volume_render
from avatarclip_studio.neus.init_fit import TemplateDistance, fit_template
from avatarclip_studio.neus.sculpt import Sculptor
from avatarclip_studio.pipeline.events import Reporter


def random_vit_b32(folder: Path, device: torch.device, dtype: torch.dtype | None) -> ClipGuidance:
    """The product's CLIP guidance around a ViT-B/32 with random weights (saved to ``folder`` and loaded as
    a checkpoint): what a step costs with real CLIP, not what it says (no weights exist offline)."""
    path = folder / "random-vit-b32.pt"
    torch.manual_seed(0)
    torch.save(CLIP(512, 224, 12, 768, 32, 77, 49408, 512, 8, 12).state_dict(), path)
    return ClipGuidance(str(path), device=device, dtype=dtype)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="preview")
    parser.add_argument("--steps", type=int, default=24, help="timed sculpt steps (after 2 warm-up steps)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    compute = select_compute(args.device, args.precision)
    config = preset(args.preset)
    with np.load(default_body_path()) as body:
        vertices, faces = body["v_template"], body["f"].astype(np.int64)
        head = body["J_regressor"][JOINT_INDEX["head"]] @ vertices

    started = time.perf_counter()
    field = fit_template(vertices, faces, config.neus, compute, Reporter())
    init_s = time.perf_counter() - started
    rng = np.random.default_rng(1)
    distance = TemplateDistance(vertices.astype(np.float64), faces, rng)
    near = distance.points[rng.integers(0, len(distance.points), 5000)] + rng.normal(0, 0.02, (5000, 3))
    points = np.concatenate([rng.uniform(-1, 1, (5000, 3)), near])
    with torch.no_grad():
        sdf = field.sdf(torch.tensor(points, dtype=torch.float32, device=compute.device)).cpu().numpy()
    truth = distance(points)
    sign = ((sdf < 0) == (truth < 0)).mean()
    near_err = np.abs(sdf[5000:] - truth[5000:]).mean()

    guidance = random_vit_b32(Path(tempfile.mkdtemp()), compute.device, compute.autocast_dtype)
    prompts = {"appearance": "a knight in shining armour"}
    warmup = 2
    sculpt = replace(config.sculpt, steps=warmup + args.steps)
    times: list[float] = []
    samples: list[int] = []
    evaluate = volume_render._evaluate

    def counted(field, points, *args, **kwargs):  # type: ignore[no-untyped-def]
        samples.append(points.shape[0])  # the samples that reach the pass with gradients
        return evaluate(field, points, *args, **kwargs)

    volume_render._evaluate = counted
    s_start = float(field.inv_s.detach())
    with tempfile.TemporaryDirectory() as tmp:
        sculptor = Sculptor(
            field, guidance, (vertices, faces), head, prompts, sculpt, compute, Reporter(), tmp
        )
        for i in range(warmup + args.steps):
            if compute.is_cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            sculptor.train_step()
            if compute.is_cuda:
                torch.cuda.synchronize()
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    # the machine's state at the time: the guidance alone, as a sculpt step runs it
    text = guidance.encode_text("a person")
    clip_s = []
    for _ in range(3):  # two images, as a sculpt step sends
        image = torch.rand(2, 3, 128, 128, device=compute.device, requires_grad=True)
        t0 = time.perf_counter()
        with compute.autocast():
            loss = guidance.clip_loss(image, text).float().sum()
        loss.backward()
        clip_s.append(time.perf_counter() - t0)
    print(f"Machine: {machine()}, torch {torch.__version__}")
    print(f"ViT-B/32 forward+backward of two images right after: {min(clip_s):.2f} s")
    print(
        f"s (inverse deviation) {s_start:.0f} → {float(field.inv_s.detach()):.0f}; samples with gradients "
        f"per step: median {int(np.median(samples[warmup:]))}"
    )
    print(
        "| preset | device | init (s) | init steps | sign agreement | near-surface |SDF err| (mm) "
        "| sculpt s/step (median, min–max) |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {args.preset} | {compute.describe()} | {init_s:.1f} | {config.neus.init_steps} | {sign:.3f} "
        f"| {near_err * 1000:.1f} | {np.median(times):.2f} ({min(times):.2f}–{max(times):.2f}) |"
    )


if __name__ == "__main__":
    main()
