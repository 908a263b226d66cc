"""Our offline guidance: frozen MiniLM text tower + the project's trained image tower."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open

from avatarclip_studio.guidance.base import Guidance
from avatarclip_studio.guidance.errors import GuidanceUnavailable
from avatarclip_studio.guidance.offline.image_tower import INPUT_SIZE, ImageTower
from avatarclip_studio.guidance.offline.text_tower import TextTower, TextTowerUnavailable
from avatarclip_studio.paths import resource_path

FORMAT = "avatarclip-offline-image-tower"


def default_weights_path() -> Path:
    return resource_path("guidance", "offline_image_tower.safetensors")


def load_image_tower(path: str | Path) -> ImageTower:
    """The trained image tower from a safetensors file; :class:`GuidanceUnavailable` naming it if unusable."""
    path = Path(path)
    hint = "rebuild it with `avatarclip-studio train guidance`"
    if not path.is_file():
        raise GuidanceUnavailable(f"offline guidance weights {path} are missing: {hint}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise GuidanceUnavailable(f"offline guidance weights {path} are unreadable ({exc}): {hint}") from exc
    if meta.get("format") != FORMAT:
        raise GuidanceUnavailable(
            f"{path} is not an offline guidance image tower (format {meta.get('format')!r})"
        )
    tower = ImageTower()
    try:
        tower.load_state_dict(state)
    except RuntimeError as exc:
        raise GuidanceUnavailable(f"{path} does not match this version's image tower: {hint}") from exc
    return tower.eval().requires_grad_(False)


class OfflineGuidance(Guidance):
    """Same API as CLIP; knows what the project's renders can show (shape, colours, poses)."""

    name = "offline (MiniLM text + project image tower)"
    input_size = INPUT_SIZE

    def __init__(self, weights: str | Path = "", device: torch.device | str = "cpu") -> None:
        super().__init__()
        self._device = torch.device(device)
        self.tower = load_image_tower(weights or default_weights_path()).to(self._device)
        try:
            self._text = TextTower(self._device)
        except TextTowerUnavailable as exc:
            raise GuidanceUnavailable(str(exc)) from exc

    @property
    def device(self) -> torch.device:
        return self._device

    def _encode_texts(self, texts: list[str]) -> torch.Tensor:
        return self._text.encode(texts).to(self._device)

    def _encode_pixels(self, images: torch.Tensor) -> torch.Tensor:
        return self.tower(images)
