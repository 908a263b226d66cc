"""The one place where device (CUDA/CPU) and precision (fp32/bf16) are chosen.

Every stage receives a :class:`Compute` and never calls ``torch.cuda.is_available()`` itself.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
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

    def describe(self) -> str:
        precision = "bf16 autocast" if self.autocast_dtype is not None else "fp32"
        if self.is_cuda:
            name = torch.cuda.get_device_name(self.device)
            return f"cuda ({name}), {precision}"
        return f"cpu ({torch.get_num_threads()} threads), {precision}"


class DeviceUnavailable(RuntimeError):
    """The requested device is not on this machine; the message says what to use instead."""


def select_compute(device: DeviceChoice = "auto", precision: PrecisionChoice = "auto") -> Compute:
    """Pick the device and precision once, for the whole run.

    ``auto`` device: CUDA when present, else the CPU. ``auto`` precision: bf16 on a CUDA device that
    supports it (and TF32 matmuls), fp32 on the CPU, where bf16 is only faster for large networks.
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
        dtype = torch.bfloat16 if use_cuda and torch.cuda.is_bf16_supported() else None
    return Compute(device=dev, autocast_dtype=dtype)
