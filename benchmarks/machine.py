"""The machine a benchmark ran on, for the caption of its figures."""

from __future__ import annotations

import platform
from pathlib import Path

import torch

from avatarclip_studio.device import cpu_has_native_bf16


def machine() -> str:
    """CPU model, core count and bf16 support (or the GPU)."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text(errors="replace").splitlines() if cpuinfo.exists() else []
    names = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")]
    bf16 = "bf16 in hardware" if cpu_has_native_bf16() else "no bf16 in hardware"
    return f"{names[0] if names else platform.machine()}, {len(names) or '?'} cores, {bf16}"
