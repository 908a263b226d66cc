"""Choose the guidance model: real CLIP when its weights are here (or forced), else our offline model."""

from __future__ import annotations

import torch

from avatarclip_studio.guidance.base import Guidance
from avatarclip_studio.guidance.clip_model import ClipGuidance, find_checkpoint
from avatarclip_studio.guidance.config import GuidanceConfig
from avatarclip_studio.guidance.errors import GuidanceUnavailable
from avatarclip_studio.guidance.offline.model import OfflineGuidance


def load_guidance(
    config: GuidanceConfig, device: torch.device | str = "cpu", dtype: torch.dtype | None = None
) -> Guidance:
    """``auto``: CLIP if its checkpoint is on disk (never downloads), else offline; ``clip`` forces CLIP
    (downloading when allowed, else :class:`GuidanceUnavailable` naming the file); ``offline`` forces ours.
    ``dtype``: the run's autocast dtype, which CLIP's frozen weights are kept in (None: float32).
    The result's ``.name`` says which model is active."""
    if config.backend == "clip" or (
        config.backend == "auto" and find_checkpoint(config.clip_model, config.clip_download_root) is not None
    ):
        return ClipGuidance(config.clip_model, config.clip_download_root, device, dtype)
    if config.backend in ("auto", "offline"):
        return OfflineGuidance(config.offline_weights, device)
    raise GuidanceUnavailable(f"unknown guidance backend {config.backend!r}: use auto, clip or offline")
