"""``avatarclip-studio train WHAT``: rebuild a shipped model or a cache, seeded and with progress."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from avatarclip_studio.config import StudioConfig
from avatarclip_studio.paths import resource_path
from avatarclip_studio.pipeline.events import Reporter

TARGETS = ("body", "guidance", "shape-vae", "pose-prior", "motion-vae", "codebooks")


def default_output(what: str) -> Path:
    return {
        "body": resource_path("body", "open_body_neutral.npz"),
        "guidance": resource_path("guidance", "offline_image_tower.safetensors"),
        "shape-vae": resource_path("shape", "shape_vae.pt"),
        "pose-prior": resource_path("motion", "pose_prior.safetensors"),
        "motion-vae": resource_path("motion", "motion_vae.safetensors"),
    }[what]


def train(
    what: str,
    reporter: Reporter,
    steps: int | None = None,
    seed: int = 0,
    out: Path | None = None,
    amass: Path | None = None,
    guidance_backend: str = "auto",
    config: StudioConfig | None = None,
) -> list[Path]:
    """Train ``what`` and return the files written."""
    config = config or StudioConfig()
    if what not in TARGETS:
        raise ValueError(f"unknown training target {what!r}; choose one of {', '.join(TARGETS)}")
    if amass is not None and what not in ("pose-prior", "motion-vae"):
        raise ValueError("--amass applies to pose-prior and motion-vae only")
    if what == "codebooks":
        return _codebooks(reporter, guidance_backend, config)
    path = Path(out) if out is not None else default_output(what)
    extra: dict[str, Any] = {"steps": steps} if steps is not None else {}
    if what == "body":
        from avatarclip_studio.body.build_open_body import build_open_body

        build_open_body(path, reporter, seed=seed)
    elif what == "guidance":
        from avatarclip_studio.guidance.offline.train import train_offline_guidance

        train_offline_guidance(path, seed=seed, reporter=reporter, **extra)
    elif what == "shape-vae":
        from avatarclip_studio.body.model import load_body_model
        from avatarclip_studio.shape.vae import train_shape_vae

        body = load_body_model(config.body)
        train_shape_vae(body, config.shape, path, steps=steps, reporter=reporter, seed=seed)
    elif what == "pose-prior":
        from avatarclip_studio.motion.pose_prior import train_pose_prior

        train_pose_prior(path, seed=seed, reporter=reporter, amass_dir=amass, **extra)
    else:
        from avatarclip_studio.motion.motion_vae import train_motion_vae

        # the shipped VAE is narrower than the method's (64 wide, FF 256): fast on a CPU and a few MB
        shipped = replace(config.motion, vae_latent=64, vae_ff=256)
        train_motion_vae(path, seed=seed, reporter=reporter, config=shipped, **extra)
    return [path]


def _codebooks(reporter: Reporter, guidance_backend: str, config: StudioConfig) -> list[Path]:
    """Build (or find cached) the shape and pose code-books of the chosen guidance model."""
    from avatarclip_studio.body.model import load_body_model
    from avatarclip_studio.device import select_compute
    from avatarclip_studio.guidance.select import load_guidance
    from avatarclip_studio.motion.codebook import build_codebook
    from avatarclip_studio.motion.pose_prior import load_pose_prior
    from avatarclip_studio.paths import cache_dir
    from avatarclip_studio.shape.generate import shape_codebook

    compute = select_compute(config.device, config.precision)
    guidance_config = replace(config.guidance, backend=guidance_backend)  # type: ignore[arg-type]
    guidance = load_guidance(guidance_config, compute.device, compute.autocast_dtype)
    reporter.log("codebooks", f"guidance model: {guidance.name}")
    body = load_body_model(config.body, compute.device)
    shape_codebook(guidance, body, config.shape, reporter, seed=config.seed)
    prior = load_pose_prior(config.motion.pose_prior_path or None, compute.device)
    build_codebook(guidance, body, prior, config.motion, compute, reporter)
    return [cache_dir()]
