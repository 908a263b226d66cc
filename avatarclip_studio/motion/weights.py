"""Small trained motion models on disk: safetensors with the architecture in the metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from avatarclip_studio.paths import resource_path
from avatarclip_studio.utils.atomic import atomic_path


class MotionWeightsError(ValueError):
    """A motion model file that is missing, unreadable or for another architecture."""


def shipped(name: str) -> Path:
    """``resources/motion/<name>``."""
    return resource_path("motion", name)


def save_weights(
    path: str | Path, module: torch.nn.Module, kind: str, arch: dict[str, Any], info: dict[str, Any]
) -> None:
    """Write ``module``'s parameters (fp16 to stay small) with ``kind``, ``arch`` and ``info`` as metadata."""
    state = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in module.state_dict().items()}
    meta = {"kind": kind, "arch": json.dumps(arch), "info": json.dumps(info)}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)


def read_weights(
    path: str | Path, kind: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """(state dict in fp32, arch, info) of a file written by :func:`save_weights` for ``kind``."""
    path = Path(path)
    if not path.is_file():
        raise MotionWeightsError(
            f"{path}: {kind} weights not found; "
            f"train them with `avatarclip-studio train {kind.replace('_', '-')}`"
        )
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        state = load_file(str(path))
        arch = json.loads(meta["arch"])
        info = json.loads(meta.get("info", "{}"))
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as exc:
        raise MotionWeightsError(f"{path}: not a readable {kind} safetensors file ({exc})") from exc
    if meta.get("kind") != kind:
        raise MotionWeightsError(f"{path}: holds {meta.get('kind')!r} weights, expected {kind!r}")
    return {k: v.float() for k, v in state.items()}, arch, info
