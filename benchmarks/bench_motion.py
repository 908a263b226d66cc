"""Motion stage timings: candidate query on a built code-book, and one 60-frame motion.

    .venv/bin/python benchmarks/bench_motion.py [--threads 2] [--steps 300] [--codebook 4096]
        [--precision fp32|bf16|auto]

Uses the offline guidance when its shipped weights are present, else a
random-weights stand-in of the same API (the timings of the motion code itself are what is measured;
the guidance's own cost is reported separately). Writes nothing; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.model import load_body_model
from avatarclip_studio.device import select_compute
from avatarclip_studio.guidance.base import Guidance
from avatarclip_studio.guidance.config import GuidanceConfig
from avatarclip_studio.guidance.errors import GuidanceUnavailable
from avatarclip_studio.guidance.select import load_guidance
from avatarclip_studio.motion.animate import generate_motion, splat_frame_renderer
from avatarclip_studio.motion.candidates import find_candidates
from avatarclip_studio.motion.codebook import PoseCodebook, build_codebook
from avatarclip_studio.motion.config import MotionConfig
from avatarclip_studio.motion.motion_vae import load_motion_vae
from avatarclip_studio.motion.pose_prior import load_pose_prior


class _StandIn(Guidance):
    name = "random-weights stand-in"
    input_size = 64

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 8, stride=8), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 64, 384)
        )

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def _encode_texts(self, texts: list[str]) -> torch.Tensor:
        return torch.randn(len(texts), 384)

    def _encode_pixels(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


def _guidance() -> Guidance:
    try:
        return load_guidance(replace(GuidanceConfig(), backend="offline"), torch.device("cpu"))
    except GuidanceUnavailable as exc:
        print(f"(offline guidance unavailable: {exc}; timing with a random-weights stand-in)")
        return _StandIn()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300, help="optimisation steps (preview preset: 300)")
    parser.add_argument("--codebook", type=int, default=4096, help="code-book entries")
    parser.add_argument("--precision", default="fp32", choices=["auto", "fp32", "bf16"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    compute = select_compute("cpu", args.precision)
    guidance = _guidance()
    body = load_body_model(BodyConfig())
    prior, vae = load_pose_prior(), load_motion_vae()
    config = replace(MotionConfig(), optimise_steps=args.steps, num_frames=60)

    # a built code-book of the requested size: prior poses with features from the guidance's space
    poses = prior.sample(args.codebook, torch.Generator().manual_seed(0))
    dim = guidance.encode_text("a person").shape[-1]
    features = torch.nn.functional.normalize(torch.randn(args.codebook, dim), dim=-1)
    book = PoseCodebook(poses=poses, features=features, guidance_name=guidance.name)

    rows = []
    start = time.perf_counter()
    find_candidates("waving both hands", guidance, book, config)
    rows.append(
        ("candidates (first query: text encoding + top-40 + de-duplication)", time.perf_counter() - start)
    )
    start = time.perf_counter()
    find_candidates("waving both hands", guidance, book, config)
    rows.append(("candidates (cached text)", time.perf_counter() - start))

    with_clip = (
        "with guidance term" if splat_frame_renderer(config.clip_render_size) else "no renderer: skipped"
    )
    for lambda_clip, label in ((0.0, "candidate terms only"), (config.lambda_clip, with_clip)):
        run = replace(config, lambda_clip=lambda_clip)
        start = time.perf_counter()
        generate_motion(
            "waving both hands", guidance, body, run, compute, prior=prior, vae=vae, codebook=book
        )
        rows.append((f"60-frame motion, {args.steps} steps, {label}", time.perf_counter() - start))

    sample = 64
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        small = replace(config, pose_codebook_size=sample)
        build_codebook(guidance, body, prior, small, compute, root=Path(tmp))
        per_pose = (time.perf_counter() - start) / sample
    rows.append((f"code-book build, per pose (5 renders + encodings; {sample} poses)", per_pose))
    rows.append(
        (
            f"code-book build, {args.codebook} poses (extrapolated, once per guidance model)",
            per_pose * args.codebook,
        )
    )

    print(f"guidance: {guidance.name}; torch threads: {args.threads}; code-book: {args.codebook} poses")
    print("| measurement | seconds |\n|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
