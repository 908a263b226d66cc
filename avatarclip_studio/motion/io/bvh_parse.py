"""BVH parsing: the joint hierarchy, rest offsets, channels and motion table, with strict checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatarclip_studio.motion.io.errors import MotionFileError, check_file, check_frames, reading

_TOKEN = re.compile(r"[{}]|[^\s{}]+")
_CHANNEL_NAMES = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
_MOTION = re.compile(r"^\s*MOTION\b", re.MULTILINE)
MAX_VALUES = 50_000_000
"""Most numbers a motion table may hold (100k frames x 500 channels)."""
_MAX_CHARS_PER_VALUE = 64
MAX_JOINTS = 500  # the parser recurses once per level; real rigs have < 200


@dataclass(frozen=True)
class BvhJoint:
    name: str
    parent: int
    """Index of the parent joint, -1 for the root."""
    offset: np.ndarray
    """(3,) rest offset from the parent, file units."""
    channels: tuple[str, ...]
    """Channel names in file order, e.g. ("Zrotation", "Xrotation", "Yrotation")."""
    end_site: np.ndarray | None
    """(3,) offset of the End Site child, if any."""


@dataclass(frozen=True)
class BvhData:
    joints: tuple[BvhJoint, ...]
    """In file order: every parent comes before its children."""
    motion: np.ndarray
    """(T, C) channel values, columns in joint then channel order."""
    frame_time: float
    """Seconds per frame."""

    def channel_columns(self) -> list[dict[str, int]]:
        """For each joint, its channel name -> column in :attr:`motion`."""
        columns, start = [], 0
        for joint in self.joints:
            columns.append({name: start + i for i, name in enumerate(joint.channels)})
            start += len(joint.channels)
        return columns

    def rest_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """(J, 3) joint rest positions and (E, 3) end-site rest positions, root at its offset."""
        pos = np.zeros((len(self.joints), 3))
        ends = []
        for i, joint in enumerate(self.joints):
            pos[i] = joint.offset + (pos[joint.parent] if joint.parent >= 0 else 0.0)
            if joint.end_site is not None:
                ends.append(pos[i] + joint.end_site)
        return pos, np.array(ends).reshape(-1, 3)


class _Tokens:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.items = _TOKEN.findall(text)
        self.pos = 0

    def next(self, what: str) -> str:
        if self.pos >= len(self.items):
            raise MotionFileError(self.path, f"file ends early: expected {what}")
        self.pos += 1
        return self.items[self.pos - 1]

    def expect(self, word: str) -> None:
        got = self.next(repr(word))
        if got.upper() != word.upper():
            raise MotionFileError(self.path, f"expected {word!r}, found {got[:40]!r}")

    def number(self, what: str) -> float:
        token = self.next(what)
        try:
            value = float(token)
        except ValueError:
            raise MotionFileError(self.path, f"expected a number for {what}, found {token[:40]!r}") from None
        if not np.isfinite(value):
            raise MotionFileError(self.path, f"{what} is {token}")
        return value


def read_bvh(path: str | Path) -> BvhData:
    """Parse a BVH file. Broken hierarchies, unknown channels, short or extra motion data,
    NaNs and over-long motions raise :class:`MotionFileError`."""
    path = check_file(path)
    with reading(path, "BVH"):
        text = path.read_bytes().decode("utf-8", errors="replace")
    # only the hierarchy and the motion header are tokenized; the numbers are split once their count is known
    split = _MOTION.search(text)
    tokens = _Tokens(path, text[: split.end()] if split else text)
    tokens.expect("HIERARCHY")
    joints: list[BvhJoint] = []
    tokens.expect("ROOT")
    _read_joint(tokens, joints, parent=-1)
    tokens.expect("MOTION")
    header = text[split.end() :].split(maxsplit=5) if split else []
    table = header.pop() if len(header) == 6 else ""
    tokens = _Tokens(path, " ".join(header))
    tokens.expect("Frames:")
    frames = tokens.number("the frame count")
    if frames != int(frames):
        raise MotionFileError(path, f"frame count {frames} is not a whole number")
    check_frames(path, int(frames))
    tokens.expect("Frame")
    tokens.expect("Time:")
    frame_time = tokens.number("the frame time")
    if not 1e-3 <= frame_time <= 10.0:
        raise MotionFileError(path, f"frame time {frame_time} s is not in [0.001, 10]")
    num_channels = sum(len(j.channels) for j in joints)
    expected = int(frames) * num_channels
    if expected > MAX_VALUES or len(table) > _MAX_CHARS_PER_VALUE * expected + 1024:
        raise MotionFileError(
            path, f"motion data is too large ({int(frames)} frames x {num_channels} channels)"
        )
    values = table.split()
    if len(values) != expected:
        raise MotionFileError(
            path,
            f"motion has {len(values)} numbers, expected {int(frames)} frames x {num_channels} channels",
        )
    try:
        motion = np.array(values, dtype=np.float64).reshape(int(frames), num_channels)
    except ValueError:
        raise MotionFileError(path, "motion data contains something that is not a number") from None
    if not np.isfinite(motion).all():
        raise MotionFileError(path, "motion data contains NaN or infinite values")
    return BvhData(tuple(joints), motion, frame_time)


def _read_offset(tokens: _Tokens, name: str) -> np.ndarray:
    tokens.expect("OFFSET")
    return np.array([tokens.number(f"the offset of {name}") for _ in range(3)])


def _read_joint(tokens: _Tokens, joints: list[BvhJoint], parent: int) -> None:
    name = tokens.next("a joint name")
    if name in ("{", "}"):
        raise MotionFileError(tokens.path, "a joint has no name")
    if len(joints) >= MAX_JOINTS:
        raise MotionFileError(tokens.path, f"more than {MAX_JOINTS} joints")
    if any(j.name == name for j in joints):
        raise MotionFileError(tokens.path, f"joint name {name!r} appears twice")
    tokens.expect("{")
    offset = _read_offset(tokens, name)
    tokens.expect("CHANNELS")
    count = tokens.number(f"the channel count of {name}")
    if count not in range(7):
        raise MotionFileError(tokens.path, f"joint {name!r} has {count} channels (0-6 allowed)")
    channels = tuple(tokens.next(f"a channel of {name}") for _ in range(int(count)))
    for channel in channels:
        if channel not in _CHANNEL_NAMES:
            raise MotionFileError(tokens.path, f"joint {name!r} has an unknown channel {channel[:40]!r}")
    if len(set(channels)) != len(channels):
        raise MotionFileError(tokens.path, f"joint {name!r} repeats a channel")
    index = len(joints)
    joints.append(BvhJoint(name, parent, offset, channels, None))
    while True:
        word = tokens.next(f"the end of joint {name!r}")
        if word == "}":
            return
        if word.upper() == "JOINT":
            _read_joint(tokens, joints, parent=index)
        elif word.upper() == "END":
            tokens.expect("Site")
            tokens.expect("{")
            end = _read_offset(tokens, f"{name}'s end site")
            tokens.expect("}")
            joints[index] = BvhJoint(name, parent, offset, channels, end)
        else:
            raise MotionFileError(tokens.path, f"unexpected {word[:40]!r} inside joint {name!r}")
