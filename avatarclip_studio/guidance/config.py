from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class GuidanceConfig:
    backend: Literal["auto", "clip", "offline"] = "auto"
    """auto: real CLIP when its weights are found, else the offline model shipped in resources/."""
    clip_model: str = "ViT-B/32"
    """Official CLIP name (ViT-B/32, ViT-B/16, ViT-L/14) or a path to a checkpoint file."""
    clip_download_root: str = ""
    """Where CLIP checkpoints are looked for / downloaded; empty: the clip package's ~/.cache/clip."""
    offline_weights: str = ""
    """Offline image tower weights; empty: the shipped resources/guidance/offline_image_tower.safetensors."""
