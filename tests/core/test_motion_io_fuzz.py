"""Fuzzing every motion reader: random and mutated bytes give a clean clip or a MotionFileError, nothing else.

Examples per test come from the ``motion-io-fuzz`` hypothesis profile (env ``MOTION_IO_FUZZ_EXAMPLES``,
default 150).
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avatarclip_studio.motion.io import MotionFileError, load_motion

settings.register_profile(
    "motion-io-fuzz",
    max_examples=int(os.environ.get("MOTION_IO_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
FUZZ = settings.get_profile("motion-io-fuzz")

DATA = Path(__file__).parents[1] / "data"

# (position in [0, 1), operation, byte)
EDITS = st.lists(
    st.tuples(
        st.floats(0, 1, exclude_max=True), st.sampled_from(["set", "insert", "delete"]), st.integers(0, 255)
    ),
    min_size=1,
    max_size=6,
)
# tokens that break BVH or JSON structure in interesting ways
TOKENS = [
    "{",
    "}",
    "JOINT",
    "End",
    "Site",
    "OFFSET",
    "CHANNELS",
    "MOTION",
    "Frames:",
    "nan",
    "inf",
    "-1",
    "0",
    "1e309",
    "100001",
    "3",
    "6",
    "Xrotation",
    "Hips",
    "[",
    "]",
    ",",
    '"Frames"',
    "null",
    "[[",
    "]]",
]


def mutate(data: bytes, edits: list[tuple[float, str, int]]) -> bytes:
    buf = bytearray(data)
    for where, op, byte in edits:
        i = int(where * len(buf)) if buf else 0
        if op == "set" and buf:
            buf[i] = byte
        elif op == "insert":
            buf.insert(i, byte)
        elif buf:
            del buf[i]
    return bytes(buf)


def mutate_tokens(text: str, edits: list[tuple[float, int]]) -> str:
    words = text.split(" ")
    for where, pick in edits:
        words[int(where * len(words))] = TOKENS[pick % len(TOKENS)]
    return " ".join(words)


def _npz_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, poses=np.zeros((3, 72)), trans=np.zeros((3, 3)), mocap_framerate=np.array(60.0))
    return buf.getvalue()


def _npy_bytes() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.zeros((4, 69), np.float32))
    return buf.getvalue()


SEEDS: dict[str, Callable[[], bytes]] = {
    ".bvh": lambda: (DATA / "mixamo_apose_cm.bvh").read_bytes(),
    ".txt": lambda: (DATA / "deepmimic_tiny.txt").read_bytes(),
    ".npz": _npz_bytes,
    ".npy": _npy_bytes,
    ".pkl": lambda: pickle.dumps({"poses": np.zeros((3, 72)), "trans": np.zeros((3, 3))}),
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def read_or_refuse(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        clip = load_motion(path)
    except MotionFileError as exc:
        assert path.name in str(exc)
        return
    assert clip.poses.shape == (clip.num_frames, 24, 3) and np.isfinite(clip.poses).all()


@pytest.mark.parametrize("suffix", sorted(SEEDS))
def test_seed_files_are_readable(workdir: Path, suffix: str) -> None:
    path = workdir / f"seed{suffix}"
    path.write_bytes(SEEDS[suffix]())
    assert load_motion(path).num_frames >= 1


@pytest.mark.parametrize("suffix", sorted(SEEDS))
@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes(workdir: Path, suffix: str, data: bytes) -> None:
    read_or_refuse(workdir / f"random{suffix}", data)


@pytest.mark.parametrize("suffix", sorted(SEEDS))
@FUZZ
@given(edits=EDITS)
def test_mutated_bytes(workdir: Path, suffix: str, edits: list[tuple[float, str, int]]) -> None:
    read_or_refuse(workdir / f"mutated{suffix}", mutate(SEEDS[suffix](), edits))


@pytest.mark.parametrize("suffix", [".bvh", ".txt"])
@FUZZ
@given(
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 100)), min_size=1, max_size=4)
)
def test_mutated_tokens(workdir: Path, suffix: str, edits: list[tuple[float, int]]) -> None:
    text = SEEDS[suffix]().decode()
    read_or_refuse(workdir / f"tokens{suffix}", mutate_tokens(text, edits).encode())
