"""Avatar-generation timings: NeuS init fit to the body template, and seconds per sculpt step.

    .venv/bin/python benchmarks/bench_sculpt.py [--preset preview] [--steps 6] [--threads 2] [--device cpu]

The guidance is a random-weights ``clip.model.CLIP`` ViT-B/32 (no weights exist offline): the cost of
CLIP's forward/backward is what matters here, not what it says. Writes nothing; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace

import numpy as np
import torch
from clip.model import CLIP
from clip.simple_tokenizer import SimpleTokenizer

from avatarclip_studio.body.model import default_body_path
from avatarclip_studio.body.skeleton import JOINT_INDEX
from avatarclip_studio.config import preset
from avatarclip_studio.device import select_compute
from avatarclip_studio.guidance.base import Guidance
from avatarclip_studio.neus.init_fit import TemplateDistance, fit_template
from avatarclip_studio.neus.sculpt import Sculptor
from avatarclip_studio.pipeline.events import Reporter

CLIP_MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
CLIP_STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)


class RandomViTB32(Guidance):
    """ViT-B/32-sized CLIP with random weights, for timing only."""

    name = "random-weights CLIP ViT-B/32 (timing only)"
    input_size = 224

    def __init__(self, device: torch.device) -> None:
        super().__init__()
        self.model = (
            CLIP(512, 224, 12, 768, 32, 77, 49408, 512, 8, 12).to(device).eval().requires_grad_(False)
        )
        self.tokenizer = SimpleTokenizer()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _encode_texts(self, texts: list[str]) -> torch.Tensor:
        tokens = torch.zeros(len(texts), 77, dtype=torch.long)
        for i, text in enumerate(texts):
            ids = self.tokenizer.encode(text)[:75]
            tokens[i, : len(ids) + 2] = torch.tensor([49406, *ids, 49407])
        return self.model.encode_text(tokens.to(self.device))

    def _encode_pixels(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image((images - CLIP_MEAN.to(images)) / CLIP_STD.to(images))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="preview")
    parser.add_argument("--steps", type=int, default=6, help="timed sculpt steps (after 2 warm-up steps)")
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

    guidance = RandomViTB32(compute.device)
    prompts = {"appearance": "a knight in shining armour"}
    warmup = 2
    sculpt = replace(config.sculpt, steps=warmup + args.steps)
    times: list[float] = []
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
    # the machine's load at the time: ViT-B/32 forward+backward to the pixels (idle 2-core EPYC: 0.18–0.24 s)
    image = torch.rand(1, 3, 224, 224, device=compute.device, requires_grad=True)
    t0 = time.perf_counter()
    guidance.clip_loss(image, guidance.encode_text("a person")).sum().backward()
    clip_s = time.perf_counter() - t0
    print(f"ViT-B/32 forward+backward right after: {clip_s:.2f} s")
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
