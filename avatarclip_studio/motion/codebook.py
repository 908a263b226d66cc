"""The pose code-book: many prior poses, each rendered from 5 azimuths and encoded by the guidance.

Building it is the slow part of motion generation (thousands of renders and image encodings), so it
is cached on disk per guidance model, body model, pose prior and size; a text query is then a
matrix product (:mod:`avatarclip_studio.motion.candidates`).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from avatarclip_studio.body.model import BodyModel
from avatarclip_studio.device import Compute
from avatarclip_studio.guidance.base import Guidance
from avatarclip_studio.guidance.fingerprint import probe_features, same_model
from avatarclip_studio.motion.config import MotionConfig
from avatarclip_studio.motion.pose_prior import PosePrior
from avatarclip_studio.paths import cache_dir
from avatarclip_studio.pipeline.events import Progress, Reporter
from avatarclip_studio.render.camera import orbit_camera
from avatarclip_studio.render.offscreen import OffscreenRenderer
from avatarclip_studio.utils.atomic import atomic_path

ViewRenderer = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``(vertices (N,V,3), faces (F,3)) -> images (N, A, H, W, 3) uint8``: each mesh from the A views."""

RENDER_SIZE = 128
"""Code-book renders are this size; the guidance resizes them (antialiased) to its input."""
BATCH = 32


@dataclass(frozen=True)
class PoseCodebook:
    poses: torch.Tensor
    """(N, 24, 3) axis-angle poses (global orientation zero)."""
    features: torch.Tensor
    """(N, D) L2-normalised image features, averaged over the views."""
    guidance_name: str


@contextlib.contextmanager
def offscreen_view_renderer(
    azimuths_deg: Sequence[float], distance: float, size: int = RENDER_SIZE
) -> Iterator[ViewRenderer]:
    """Grey-shaded renders from ``azimuths_deg`` at ``distance`` (elevation 0, aimed at the pelvis),
    through the project's OpenGL renderer; its GL context is released on exit."""
    cameras = [orbit_camera(az, 0.0, distance) for az in azimuths_deg]
    with OffscreenRenderer(size, size) as renderer:

        def render(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
            batch = np.repeat(vertices, len(cameras), axis=0)
            images = renderer.render_many(batch, faces, None, cameras * len(vertices), shading="gray")
            return np.asarray(images).reshape(len(vertices), len(cameras), size, size, 3)

        yield render


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:48] or "guidance"


def codebook_path(
    guidance: Guidance, body: BodyModel, prior: PosePrior, config: MotionConfig, root: Path
) -> Path:
    """Cache file of one (guidance, body, prior, size, views, seed) combination."""
    digest = hashlib.sha256()
    for tensor in (*prior.state_dict().values(), body.v_template, body.J_regressor):
        digest.update(tensor.detach().cpu().numpy().tobytes())
    digest.update(
        repr((config.pose_codebook_size, config.codebook_azimuths_deg, config.codebook_distance)).encode()
    )
    digest.update(repr(config.seed).encode())
    return root / "motion_codebook" / f"{_slug(guidance.name)}-{digest.hexdigest()[:16]}.safetensors"


def _load_cached(path: Path, guidance: Guidance) -> PoseCodebook | None:
    """The cached code-book, or None when it is damaged or was built with other weights: rebuild."""
    try:
        data = load_file(str(path))
        if not same_model(data["probe"], guidance):
            return None
        return PoseCodebook(poses=data["poses"], features=data["features"], guidance_name=guidance.name)
    except (SafetensorError, OSError, KeyError):
        return None


def build_codebook(
    guidance: Guidance,
    body: BodyModel,
    prior: PosePrior,
    config: MotionConfig,
    compute: Compute,
    reporter: Reporter | None = None,
    render_views: ViewRenderer | None = None,
    root: Path | None = None,
) -> PoseCodebook:
    """The code-book for ``guidance``, from the cache when present, else built and cached.

    ``render_views`` defaults to :func:`offscreen_view_renderer` with the config's azimuths and distance.
    ``root`` is the cache folder (default: :func:`avatarclip_studio.paths.cache_dir`).
    """
    reporter = reporter or Reporter()
    path = codebook_path(guidance, body, prior, config, root or cache_dir())
    cached = _load_cached(path, guidance) if path.is_file() else None
    if cached is not None:
        return cached
    with contextlib.ExitStack() as stack:
        render = render_views or stack.enter_context(
            offscreen_view_renderer(config.codebook_azimuths_deg, config.codebook_distance)
        )
        book = _encode_poses(guidance, body, prior, config, compute, reporter, render)
    with atomic_path(path) as tmp:
        tensors = {"poses": book.poses, "features": book.features, "probe": probe_features(guidance)}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
    return book


def _encode_poses(
    guidance: Guidance,
    body: BodyModel,
    prior: PosePrior,
    config: MotionConfig,
    compute: Compute,
    reporter: Reporter,
    render: ViewRenderer,
) -> PoseCodebook:
    """Sample, render and encode the code-book poses."""
    gen = torch.Generator().manual_seed(config.seed)
    poses = prior.sample(config.pose_codebook_size, gen).cpu()
    faces = body.faces.cpu().numpy()
    features = []
    total = config.pose_codebook_size
    for start in range(0, total, BATCH):
        reporter.check()
        chunk = poses[start : start + BATCH]
        with torch.no_grad():
            out = body(body_pose=chunk[:, 1:].reshape(len(chunk), -1).to(body.v_template.device))
            images = render(out.vertices.cpu().numpy(), faces)  # (n, A, H, W, 3)
            n, views = images.shape[:2]
            pixels = torch.as_tensor(images, dtype=torch.float32).reshape(n * views, *images.shape[2:])
            pixels = (pixels / 255.0).permute(0, 3, 1, 2).to(compute.device)
            with compute.autocast():
                feats = guidance.encode_image(pixels).float().reshape(n, views, -1).mean(1)
        features.append(torch.nn.functional.normalize(feats, dim=-1).cpu())
        done = min(start + BATCH, total)
        reporter.emit(
            Progress("motion", done, total, message=f"pose code-book: {done}/{total} poses encoded")
        )
    return PoseCodebook(poses=poses, features=torch.cat(features), guidance_name=guidance.name)
