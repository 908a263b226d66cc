"""A fast stand-in for the pipeline and a tiny rigged avatar, for the app's tests (UI and viewport)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import trimesh

from avatarclip_studio.avatar.skinned import SkinnedAvatar
from avatarclip_studio.body.skeleton import PARENTS
from avatarclip_studio.config import StudioConfig
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.io import DEFAULT_REST_JOINTS, save_npz
from avatarclip_studio.pipeline.events import ImageSnapshot, MeshSnapshot, Progress, Reporter
from avatarclip_studio.pipeline.run_dir import RunDir


def stick_avatar() -> SkinnedAvatar:
    """A box around every bone, each bound rigidly to the bone's parent joint: posing it moves it visibly."""
    joints = np.asarray(DEFAULT_REST_JOINTS, np.float32)
    parts, weights, colors = [], [], []
    for child, parent in enumerate(PARENTS):
        if parent < 0:
            continue
        a, b = joints[parent], joints[child]
        length = float(np.linalg.norm(b - a))
        box = trimesh.creation.box(extents=(0.07, max(length, 0.03), 0.07))
        direction = (b - a) / max(length, 1e-6)
        box.apply_transform(trimesh.geometry.align_vectors([0, 1, 0], direction))
        box.apply_translation((a + b) / 2)
        parts.append(box)
        w = np.zeros((len(box.vertices), 24), np.float32)
        w[:, parent] = 1.0
        weights.append(w)
        colors.append(
            np.tile(np.float32([0.9 * (child % 3 == 0), 0.5, 0.9 * (child % 2)]), (len(box.vertices), 1))
        )
    mesh = trimesh.util.concatenate(parts)
    return SkinnedAvatar(
        vertices=np.asarray(mesh.vertices, np.float32),
        faces=np.asarray(mesh.faces, np.int32),
        colors=np.concatenate(colors),
        skin_weights=np.concatenate(weights),
        joints=joints,
    )


def wave_clip(frames: int = 24, fps: float = 24.0) -> MotionClip:
    """The left arm swinging up and down, the body turning slowly."""
    poses = np.zeros((frames, 24, 3), np.float32)
    phase = np.linspace(0, 2 * np.pi, frames, endpoint=False)
    poses[:, 16, 2] = -1.2 * np.sin(phase)  # left shoulder
    poses[:, 0, 1] = 0.3 * np.sin(phase)
    trans = np.zeros((frames, 3), np.float32)
    return MotionClip(poses=poses, trans=trans, fps=fps, name="wave")


def write_run(path: Path, prompts: dict[str, str], config: StudioConfig | None = None) -> RunDir:
    """A finished run folder with the stick avatar and the wave motion."""
    run = RunDir.create(path, config or StudioConfig(), prompts)
    stick_avatar().save(str(run.file("avatar.npz")))
    save_npz(run.file("motion.npz"), wave_clip())
    for stage in ("shape", "neus_init", "sculpt", "mesh", "motion"):
        run.stage_finished(stage, time.perf_counter())
    run.add_output("avatar", "avatar.npz")
    run.add_output("motion", "motion.npz")
    return run


def snapshot_mesh(step: int) -> MeshSnapshot:
    """An icosphere that grows with ``step``, so successive snapshots differ."""
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.3 + 0.05 * step)
    v = np.asarray(sphere.vertices, np.float32)
    return MeshSnapshot("sculpt", step, v, np.asarray(sphere.faces, np.int32), np.full_like(v, 0.6))


class FakePipeline:
    """A job factory for :class:`MainWindow`: ``steps`` steps of two loss terms, mesh snapshots and an image
    every 5 steps; each step waits ``step_seconds`` (honouring pause/stop); then a finished run folder."""

    def __init__(self, steps: int = 20, step_seconds: float = 0.01, fail_at: int | None = None) -> None:
        self.steps, self.step_seconds, self.fail_at = steps, step_seconds, fail_at
        self.steps_done = 0

    def __call__(self, run_path: Path, config: StudioConfig, prompts: dict[str, str]):
        def job(reporter: Reporter) -> Path:
            reporter.log("guidance", "guidance model: fake guidance")
            started = time.perf_counter()
            RunDir.create(run_path, config, prompts).stage_started("sculpt")
            for step in range(1, self.steps + 1):
                reporter.check()
                if step == self.fail_at:
                    raise RuntimeError("the fake stage broke on purpose")
                time.sleep(self.step_seconds)
                rate = step / max(time.perf_counter() - started, 1e-6)
                losses = {"clip": 1.0 / step, "geometry": 0.5 / step}
                losses["total"] = sum(losses.values())
                reporter.emit(Progress("sculpt", step, self.steps, losses, (self.steps - step) / rate, rate))
                reporter.emit(snapshot_mesh(step))
                if step % 5 == 0:
                    image = np.full((64, 48, 3), (200, 40, 40), np.uint8)
                    reporter.emit(ImageSnapshot("sculpt", step, image, "guidance view"))
                self.steps_done = step
            return write_run(run_path, prompts, config).path

        return job
