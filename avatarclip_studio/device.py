"""The one place where device (CUDA/CPU) and precision (fp32/bf16) are chosen.

Every stage receives a :class:`Compute` and never calls ``torch.cuda.is_available()`` itself.
"""

from __future__ import annotations

import contextlib
import functools
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

DeviceChoice = Literal["auto", "cuda", "cpu"]
PrecisionChoice = Literal["auto", "fp32", "bf16"]


@dataclass(frozen=True)
class Compute:
    """Where tensors live and which precision autocast regions use."""

    device: torch.device
    autocast_dtype: torch.dtype | None
    """bf16 inside :meth:`autocast` regions, or None for plain fp32."""

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        """Mixed precision for the network-heavy parts (fields, guidance encoders)."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def batch_rows(self, rows: int) -> int:
        """How many rows a batch whose size changes from call to call should be padded to.

        The CPU's bf16 matmuls (oneDNN) build and cache a kernel for every new shape: ~6 ms each and
        memory that grew a sculpting run by ~40 MB a step. There a size is rounded up to one of 8 per
        octave (≤ 12.5 % padding), so the shapes repeat. fp32 and CUDA matmuls have no such cost: ``rows``.
        """
        if self.autocast_dtype is None or self.is_cuda or rows <= 1024:
            return rows
        granule = 1 << (rows.bit_length() - 4)  # an eighth of the power of two at or below rows
        return -(-rows // granule) * granule

    def describe(self) -> str:
        precision = "bf16 autocast" if self.autocast_dtype is not None else "fp32"
        if self.is_cuda:
            name = torch.cuda.get_device_name(self.device)
            return f"cuda ({name}), {precision}"
        return f"cpu ({torch.get_num_threads()} threads), {precision}"


NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
"""CPU features (Linux ``/proc/cpuinfo`` names) with bf16 dot products in hardware."""


@functools.cache
def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this x86 CPU multiplies bf16 in hardware (AVX512-BF16 or AMX): there bf16 autocast makes
    the small NeuS networks 1.7–2× faster (docs/benchmarks/neus.md). False where it cannot be told."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return not NATIVE_BF16_FLAGS.isdisjoint(line.partition(":")[2].split())
    return False


SHORT_ATTENTION_TOKENS = 64
"""Sequences up to this long (CLIP ViT-B/32 sees 50 tokens) attend faster with the plain kernel on a CPU."""


def attention_kernels(device: torch.device, tokens: int | None) -> contextlib.AbstractContextManager[None]:
    """The scaled-dot-product attention kernels to use for sequences of ``tokens`` on ``device``: on the
    CPU the plain (math) kernel for short sequences, whose forward and backward beat the flash kernel's
    (CLIP ViT-B/32, two images: 0.26 → 0.21 s per forward and backward); torch's choice elsewhere and
    when the length is not known (None)."""
    if device.type != "cpu" or tokens is None or tokens > SHORT_ATTENTION_TOKENS:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(SDPBackend.MATH)


class DeviceUnavailable(RuntimeError):
    """The requested device is not on this machine; the message says what to use instead."""


def select_compute(device: DeviceChoice = "auto", precision: PrecisionChoice = "auto") -> Compute:
    """Pick the device and precision once, for the whole run.

    ``auto`` device: CUDA when present, else the CPU. ``auto`` precision: bf16 autocast on a CUDA device
    that supports it (and TF32 matmuls) and on a CPU with bf16 in hardware (AVX512-BF16, AMX); fp32
    elsewhere, where bf16 is emulated and slower.
    """
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(
            "CUDA was requested (--device cuda) but torch sees no CUDA device; use --device cpu"
        )
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    dev = torch.device("cuda", torch.cuda.current_device()) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if precision == "bf16":
        dtype: torch.dtype | None = torch.bfloat16
    elif precision == "fp32":
        dtype = None
    else:
        native = torch.cuda.is_bf16_supported() if use_cuda else cpu_has_native_bf16()
        dtype = torch.bfloat16 if native else None
    return Compute(device=dev, autocast_dtype=dtype)
