"""Timeline playback of a motion on a skinned avatar: frame, speed, loop. No Qt.

The model owns the clock arithmetic and the per-frame joint transforms; views (the timeline dock,
the viewport) observe it through :meth:`PlaybackModel.add_listener`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from avatarclip_studio.avatar.skinned import SkinnedAvatar
from avatarclip_studio.avatar.skinning import joint_transforms, skin
from avatarclip_studio.motion.clip import MotionClip

MIN_SPEED = 0.25
MAX_SPEED = 2.0


class PlaybackModel:
    """Which frame of ``clip`` is shown, and how time advances it.

    Listeners are called with the new frame index whenever it changes (scrub, step, tick, new clip).
    """

    def __init__(self) -> None:
        self.clip: MotionClip | None = None
        self.avatar: SkinnedAvatar | None = None
        self._transforms: torch.Tensor | None = None  # (T, 24, 4, 4)
        self.frame = 0
        self.playing = False
        self.loop = True
        self._speed = 1.0
        self._elapsed = 0.0  # seconds of clip time not yet turned into whole frames
        self._listeners: list[Callable[[int], None]] = []

    def add_listener(self, listener: Callable[[int], None]) -> None:
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener(self.frame)

    # content
    def set_content(self, avatar: SkinnedAvatar | None, clip: MotionClip | None) -> None:
        """Show ``clip`` on ``avatar`` (either may be None: nothing to pose), from frame 0."""
        self.avatar, self.clip = avatar, clip
        self._transforms = None
        if avatar is not None and clip is not None:
            self._transforms = joint_transforms(avatar.joints, clip.poses, clip.trans, avatar.parents)
        self.frame, self._elapsed = 0, 0.0
        if clip is None:
            self.playing = False
        self._notify()

    @property
    def num_frames(self) -> int:
        return 0 if self.clip is None else self.clip.num_frames

    @property
    def fps(self) -> float:
        return 30.0 if self.clip is None else float(self.clip.fps)

    @property
    def can_pose(self) -> bool:
        return self._transforms is not None

    # controls
    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if not (MIN_SPEED <= value <= MAX_SPEED):
            raise ValueError(f"playback speed must be in [{MIN_SPEED}, {MAX_SPEED}], got {value}")
        self._speed = float(value)

    def set_frame(self, frame: int) -> None:
        """Jump to ``frame`` (clamped to the clip)."""
        clamped = int(np.clip(frame, 0, max(self.num_frames - 1, 0)))
        self._elapsed = 0.0
        if clamped != self.frame:
            self.frame = clamped
            self._notify()

    def step(self, delta: int) -> None:
        """Move ``delta`` frames; wraps around when looping, stops at the ends otherwise."""
        if self.num_frames == 0:
            return
        target = self.frame + delta
        self.set_frame(target % self.num_frames if self.loop else target)

    def toggle(self) -> None:
        self.playing = not self.playing and self.num_frames > 1
        if self.playing and not self.loop and self.frame == self.num_frames - 1:
            self.set_frame(0)

    def tick(self, seconds: float) -> bool:
        """Advance the clock by ``seconds`` of wall time; True if the frame changed."""
        if not self.playing or self.num_frames < 2:
            return False
        self._elapsed += seconds * self._speed
        whole = int(self._elapsed * self.fps)
        if whole == 0:
            return False
        self._elapsed -= whole / self.fps
        target = self.frame + whole
        if self.loop:
            target %= self.num_frames
        elif target >= self.num_frames - 1:
            target, self.playing = self.num_frames - 1, False
        before = self.frame
        self.frame = target
        if self.frame != before:
            self._notify()
        return self.frame != before

    # posing
    def joint_transforms(self, frame: int | None = None) -> np.ndarray:
        """(24, 4, 4) float32 skinning transforms of ``frame`` (default: the current one)."""
        if self._transforms is None:
            raise ValueError("no avatar and motion loaded: nothing to pose")
        index = self.frame if frame is None else frame
        return self._transforms[index].numpy()

    def posed_vertices(self, frame: int | None = None) -> np.ndarray:
        """(V, 3) float32 avatar vertices in ``frame`` (linear blend skinning on the CPU)."""
        if self.avatar is None or self._transforms is None:
            raise ValueError("no avatar and motion loaded: nothing to pose")
        index = self.frame if frame is None else frame
        return skin(self.avatar.vertices, self.avatar.skin_weights, self._transforms[index : index + 1])[0]

    def posed_joints(self, frame: int | None = None) -> np.ndarray:
        """(24, 3) float32 joint positions in ``frame``: each rest joint moved by its own transform."""
        if self.avatar is None:
            raise ValueError("no avatar and motion loaded: nothing to pose")
        t = self.joint_transforms(frame)
        return (np.einsum("jab,jb->ja", t[:, :3, :3], self.avatar.joints) + t[:, :3, 3]).astype(np.float32)
