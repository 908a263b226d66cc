"""A motion clip on the SMPL 24-joint skeleton: what every motion loader returns and every writer takes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MotionClip:
    poses: np.ndarray  # (T, 24, 3) float32 axis-angle, joint 0 = global orientation
    trans: np.ndarray  # (T, 3) float32 root translation, metres, y up
    fps: float
    name: str = ""

    def __post_init__(self) -> None:
        t = len(self.poses)
        if self.poses.ndim != 3 or self.poses.shape[1:] != (24, 3):
            raise ValueError(f"motion poses must be (T, 24, 3), got {self.poses.shape}")
        if self.trans.shape != (t, 3):
            raise ValueError(f"motion translation must be ({t}, 3), got {self.trans.shape}")
        if t == 0:
            raise ValueError("a motion needs at least one frame")
        if not (np.isfinite(self.fps) and 0 < self.fps <= 1000):
            raise ValueError(f"motion fps must be in (0, 1000], got {self.fps}")
        if not (np.isfinite(self.poses).all() and np.isfinite(self.trans).all()):
            raise ValueError("motion contains NaN or infinite values")

    @property
    def num_frames(self) -> int:
        return len(self.poses)

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps
