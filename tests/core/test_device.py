"""The one place that picks device and precision."""

from __future__ import annotations

import contextlib
import platform
from pathlib import Path

import pytest
import torch

from avatarclip_studio.device import (
    DeviceUnavailable,
    attention_kernels,
    cpu_has_native_bf16,
    select_compute,
)

X86 = platform.machine().lower() in ("x86_64", "amd64")


def _cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    return path


@pytest.mark.skipif(not X86, reason="the flags are x86 ones")
@pytest.mark.parametrize(
    ("flags", "native"),
    [
        ("fpu sse2 avx2 avx512f avx512bw", False),  # AVX-512 without bf16 dot products: emulated
        ("fpu avx512f avx512_bf16 avx512_vnni", True),  # e.g. AMD Zen 4, Intel Cooper Lake
        ("fpu avx512f amx_bf16 amx_tile", True),  # Intel Sapphire Rapids and later
    ],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path: Path, flags: str, native: bool) -> None:
    assert cpu_has_native_bf16(_cpuinfo(tmp_path, flags)) is native


def test_unreadable_cpuinfo_means_no_native_bf16(tmp_path: Path) -> None:
    assert cpu_has_native_bf16(tmp_path / "missing") is False


def test_explicit_precision_wins_over_the_cpu() -> None:
    assert select_compute("cpu", "fp32").autocast_dtype is None
    assert select_compute("cpu", "bf16").autocast_dtype is torch.bfloat16
    auto = select_compute("cpu", "auto")
    assert auto.autocast_dtype is (torch.bfloat16 if cpu_has_native_bf16() else None)
    assert auto.describe().startswith("cpu (")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_missing_cuda_says_what_to_use() -> None:
    with pytest.raises(DeviceUnavailable, match="--device cpu"):
        select_compute("cuda")


def test_short_sequences_attend_with_the_plain_kernel_on_the_cpu() -> None:
    q = torch.randn(2, 4, 50, 16)
    expected = torch.softmax(q @ q.transpose(-1, -2) / 4.0, dim=-1) @ q
    with attention_kernels(torch.device("cpu"), 50):
        got = torch.nn.functional.scaled_dot_product_attention(q, q, q)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert not isinstance(attention_kernels(torch.device("cpu"), 50), contextlib.nullcontext)
    assert isinstance(attention_kernels(torch.device("cpu"), 257), contextlib.nullcontext)  # torch's choice
