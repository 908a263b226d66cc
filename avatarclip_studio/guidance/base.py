"""The guidance interface every stage uses: a text–image model and the CLIP loss.

``L_clip(I, T) = 1 − norm(E_I(I)) · norm(E_T(T))`` (METHOD.md). Implementations: real CLIP
(``guidance/clip_model.py``) and our offline model (``guidance/offline/``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F

# Prompt templates of the original code.
APPEARANCE_TEMPLATE = "a 3d rendering of {} in unreal engine"
FACE_TEMPLATE = "a 3D rendering of the face of {} in unreal engine"
BACK_TEMPLATE = "a 3D rendering of the back of {} in unreal engine"
MOTION_TEMPLATE = "a rendered 3d man is {}"
NEUTRAL_SHAPE_TEXT = "a 3d rendering of a person in unreal engine"

MAX_PROMPT_CHARS = 1000
"""Longer prompts are refused outright (the models' own context is far shorter and truncates)."""


class PromptError(ValueError):
    """An empty or unusable prompt."""


def check_prompt(text: str, what: str = "prompt") -> str:
    """Strip a prompt and refuse empty or absurdly long ones with a clear message."""
    if not isinstance(text, str):
        raise PromptError(f"the {what} must be text, got {type(text).__name__}")
    cleaned = " ".join(text.split())
    if not cleaned:
        raise PromptError(f"the {what} is empty: describe it in a few words, e.g. 'a tall and skinny person'")
    if len(cleaned) > MAX_PROMPT_CHARS:
        raise PromptError(f"the {what} has {len(cleaned)} characters; keep it under {MAX_PROMPT_CHARS}")
    return cleaned


class Guidance(ABC):
    """A text encoder and a differentiable image encoder sharing one embedding space."""

    name: str
    """Human-readable: 'CLIP ViT-B/32' or 'offline (MiniLM text + project image tower)'."""
    input_size: int
    """Side of the square image the image encoder takes (224 for CLIP)."""

    def __init__(self) -> None:
        self._text_cache: dict[str, torch.Tensor] = {}

    @property
    @abstractmethod
    def device(self) -> torch.device: ...

    @abstractmethod
    def _encode_texts(self, texts: list[str]) -> torch.Tensor:
        """(N, D) unnormalised text features, no gradient."""

    @abstractmethod
    def _encode_pixels(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in [0, 1] at ``input_size`` → (B, D) unnormalised features, differentiable."""

    def encode_text(self, texts: str | list[str]) -> torch.Tensor:
        """(N, D) L2-normalised text features; cached per prompt."""
        items = [texts] if isinstance(texts, str) else list(texts)
        items = [check_prompt(t) for t in items]
        missing = [t for t in dict.fromkeys(items) if t not in self._text_cache]
        if missing:
            with torch.no_grad():
                feats = F.normalize(self._encode_texts(missing).float(), dim=-1)
            for text, feat in zip(missing, feats, strict=True):
                self._text_cache[text] = feat
        return torch.stack([self._text_cache[t] for t in items])

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Renders (B, 3, H, W) in [0, 1], any size → (B, D) L2-normalised features (differentiable)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
        size = self.input_size
        if images.shape[-2:] != (size, size):
            # antialiased resize: plain bilinear downsampling leaves ~25% of pixels without gradient
            images = F.interpolate(
                images, size=(size, size), mode="bilinear", antialias=True, align_corners=False
            )
        return F.normalize(self._encode_pixels(images.to(self.device)).float(), dim=-1)

    def clip_loss(self, images: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        """``1 − cos`` per image, (B,); ``text_features`` (B, D) or (1, D), normalised."""
        return 1.0 - (self.encode_image(images) * text_features.to(self.device)).sum(-1)


def relative_direction(target: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
    """``norm(target − anchor)``: the shape query's text or image direction away from a neutral anchor."""
    return F.normalize(target - anchor, dim=-1)
