"""Real CLIP guidance through the ``clip`` package (PyPI ``clip-anytorch``).

Checkpoints are looked for by official name (``ViT-B/32`` → ``ViT-B-32.pt``) in the package's cache
folder (``~/.cache/clip``) or a given folder, or taken from an explicit file path. A missing checkpoint
is downloaded only when the network is reachable and ``AVATARCLIP_OFFLINE`` is not set; otherwise
:class:`GuidanceUnavailable` says which file to put where.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import warnings
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn.functional as F
from torch import nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # clip imports the deprecated pkg_resources
    import clip
    from clip.model import CLIP, build_model

from avatarclip_studio.device import attention_kernels
from avatarclip_studio.guidance.base import Guidance
from avatarclip_studio.guidance.errors import GuidanceUnavailable, PromptTruncatedWarning

ENV_OFFLINE = "AVATARCLIP_OFFLINE"
DEFAULT_ROOT = Path("~/.cache/clip").expanduser()
# CLIP's own pixel normalisation (the statistics its image encoder was trained with)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
NETWORK_TIMEOUT_S = 3.0


def checkpoint_file_name(name: str) -> str:
    """File name of an official model in the ``clip`` package's cache, e.g. 'ViT-B/32' → 'ViT-B-32.pt'."""
    if name not in clip.clip._MODELS:
        raise GuidanceUnavailable(
            f"unknown CLIP model {name!r}: use one of {', '.join(clip.available_models())} "
            "or a checkpoint path"
        )
    return Path(urlparse(clip.clip._MODELS[name]).path).name


def find_checkpoint(model: str, download_root: str | Path = "") -> Path | None:
    """The local checkpoint of ``model`` (official name or file path), or None when it is not on disk."""
    if model in clip.clip._MODELS:
        path = Path(download_root or DEFAULT_ROOT).expanduser() / checkpoint_file_name(model)
    else:
        path = Path(model).expanduser()
    return path if path.is_file() else None


def network_reachable(host: str, timeout: float = NETWORK_TIMEOUT_S) -> bool:
    """Whether ``host:443`` answers within ``timeout`` seconds (DNS included; never blocks longer)."""
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def resolve_checkpoint(model: str, download_root: str | Path = "") -> Path:
    """Find ``model`` on disk, or download an official one when allowed; else :class:`GuidanceUnavailable`."""
    found = find_checkpoint(model, download_root)
    if found is not None:
        return found
    if model not in clip.clip._MODELS:
        raise GuidanceUnavailable(
            f"CLIP checkpoint {model} not found: pass an existing file to --clip-model, or an official name "
            f"({', '.join(clip.available_models())})"
        )
    root = Path(download_root or DEFAULT_ROOT).expanduser()
    file_name = checkpoint_file_name(model)
    hint = f"put {file_name} in {root}, or pass --clip-model PATH"
    url = clip.clip._MODELS[model]
    if os.environ.get(ENV_OFFLINE, "") not in ("", "0"):
        raise GuidanceUnavailable(f"CLIP {model} is not on this machine and {ENV_OFFLINE} is set: {hint}")
    host = urlparse(url).hostname or ""
    if not network_reachable(host):
        raise GuidanceUnavailable(f"CLIP {model} is not on this machine and {host} cannot be reached: {hint}")
    root.mkdir(parents=True, exist_ok=True)
    try:
        return Path(clip.clip._download(url, str(root)))
    except (OSError, RuntimeError) as exc:
        raise GuidanceUnavailable(f"downloading CLIP {model} failed ({exc}): {hint}") from exc


def load_clip_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Weights of an official TorchScript checkpoint, or of a plain ``state_dict`` file (weights only)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", FutureWarning
            )  # torch deprecates jit.load; CLIP ships TorchScript
            return torch.jit.load(str(path), map_location="cpu").state_dict()
    except RuntimeError:
        pass  # not TorchScript: a plain state dict saved with torch.save
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt or foreign file
        raise GuidanceUnavailable(f"{path} is not a CLIP checkpoint: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or "visual.conv1.weight" not in data:
        raise GuidanceUnavailable(f"{path} is not a CLIP checkpoint (no 'visual.conv1.weight' in it)")
    return data


def build_clip(path: Path) -> CLIP:
    """A float32 CLIP model in eval mode from a checkpoint file."""
    state = load_clip_state_dict(path)
    weights = {
        k: v for k, v in state.items() if k not in ("input_resolution", "context_length", "vocab_size")
    }
    try:
        model = build_model(dict(state)).float()
        # build_model rounds weights to fp16; reload them so fp32 checkpoints keep their precision
        model.load_state_dict({k: v.float() for k, v in weights.items()})
    except (KeyError, RuntimeError, AssertionError) as exc:
        raise GuidanceUnavailable(
            f"{path} does not hold a CLIP model the clip package can build: {exc}"
        ) from exc
    return model.eval()


class LinearPatchEmbedding(nn.Module):
    """A ViT's patch embedding (a convolution whose stride is its kernel, no bias) as one matrix product
    over the flattened patches: the same function, and on the CPU its backward to the pixels is ~40 ms
    cheaper per pair of images than the convolution's."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.patch = int(conv.kernel_size[0])
        self.weight = nn.Parameter(conv.weight.detach().reshape(conv.out_channels, -1).clone(), False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, c, h, w = images.shape
        k, rows, cols = self.patch, h // self.patch, w // self.patch
        patches = images[:, :, : rows * k, : cols * k].reshape(b, c, rows, k, cols, k)
        patches = patches.permute(0, 2, 4, 1, 3, 5).reshape(b, rows * cols, c * k * k)
        return F.linear(patches, self.weight).transpose(1, 2).reshape(b, -1, rows, cols)


def use_linear_patch_embedding(model: CLIP) -> CLIP:
    """Swap a ViT CLIP's patch convolution for :class:`LinearPatchEmbedding`, in place (ResNet CLIPs are
    left as they are)."""
    conv = getattr(model.visual, "conv1", None)
    if (
        isinstance(conv, nn.Conv2d)
        and conv.bias is None
        and conv.kernel_size == conv.stride
        and conv.padding == (0, 0)
        and conv.kernel_size[0] == conv.kernel_size[1]
        and hasattr(model.visual, "class_embedding")
    ):
        model.visual.conv1 = LinearPatchEmbedding(conv)
    return model


def cast_matmul_weights(model: CLIP, dtype: torch.dtype) -> CLIP:
    """The weights of ``model``'s matrix products in ``dtype``, in place; layer norms stay float32 (the
    ``clip`` package's own ``convert_weights``, for any dtype). For a frozen model run under ``dtype``
    autocast the results are the same numbers, without re-casting ~88M weights on every call."""

    def cast(module: nn.Module) -> None:
        tensors: list[torch.Tensor | None] = []
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear, LinearPatchEmbedding)):
            tensors += [module.weight, getattr(module, "bias", None)]
        if isinstance(module, nn.MultiheadAttention):
            names = ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias")
            tensors += [getattr(module, name) for name in (*names, "bias_k", "bias_v")]
        tensors += [getattr(module, name, None) for name in ("text_projection", "proj")]
        for tensor in tensors:
            if isinstance(tensor, torch.Tensor):
                tensor.data = tensor.data.to(dtype)

    model.apply(cast)
    return model


class ClipGuidance(Guidance):
    """OpenAI CLIP as guidance; frozen, images normalised with CLIP's statistics inside.

    ``dtype``: the precision of its matrix-product weights (the run's autocast dtype; None: float32).
    """

    def __init__(
        self,
        model: str = "ViT-B/32",
        download_root: str | Path = "",
        device: torch.device | str = "cpu",
        dtype: torch.dtype | None = None,
    ):
        super().__init__()
        path = resolve_checkpoint(model, download_root)
        self._device = torch.device(device)
        self.model = use_linear_patch_embedding(build_clip(path)).to(self._device).requires_grad_(False)
        if dtype is not None:
            cast_matmul_weights(self.model, dtype)
        embedding = getattr(self.model.visual, "positional_embedding", None)  # a ViT: a row per token
        tokens = None if embedding is None else int(embedding.shape[0])
        self._attention = functools.partial(attention_kernels, self._device, tokens)
        self.name = f"CLIP {model}" if model in clip.clip._MODELS else f"CLIP ({path.name})"
        self.input_size = int(self.model.visual.input_resolution)
        self.context_length = int(self.model.context_length)
        self._mean = torch.tensor(CLIP_MEAN, device=self._device).view(1, 3, 1, 1)
        self._std = torch.tensor(CLIP_STD, device=self._device).view(1, 3, 1, 1)

    @property
    def device(self) -> torch.device:
        return self._device

    def _tokenize(self, texts: list[str]) -> torch.Tensor:
        for text in texts:
            count = len(clip.clip._tokenizer.encode(text)) + 2
            if count > self.context_length:
                warnings.warn(
                    f"prompt has {count} tokens, CLIP reads only {self.context_length}: it was cut after "
                    f"about {self.context_length - 2} words-pieces ({text[:60]!r}...)",
                    PromptTruncatedWarning,
                    stacklevel=4,
                )
        return clip.tokenize(texts, context_length=self.context_length, truncate=True).to(self._device)

    def _encode_texts(self, texts: list[str]) -> torch.Tensor:
        return self.model.encode_text(self._tokenize(texts))

    def _encode_pixels(self, images: torch.Tensor) -> torch.Tensor:
        with self._attention():
            return self.model.encode_image((images - self._mean) / self._std)
