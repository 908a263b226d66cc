"""Turntable and animation videos (``.mp4`` through imageio-ffmpeg's bundled ffmpeg, ``.gif``) and PNG
screenshots of an avatar, drawn by the offscreen renderer.

Frames are posed and drawn one at a time and streamed to the encoder, so a long motion never sits in
memory as vertices or images. The camera is fixed for the whole clip (framed on a sample of the posed
frames) so the avatar moves, not the view.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
from imageio_ffmpeg import write_frames
from PIL import Image

from avatarclip_studio.avatar.skinned import SkinnedAvatar
from avatarclip_studio.avatar.skinning import pose_avatar
from avatarclip_studio.export.checks import ExportError
from avatarclip_studio.export.config import ExportConfig
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.utils.atomic import atomic_path

VIDEO_SUFFIXES = (".mp4", ".gif")
_FOV_DEG = 40.0
_FRAMING_SAMPLES = 16

RenderFn = Callable[[np.ndarray, np.ndarray, np.ndarray, float, float, float, np.ndarray], np.ndarray]
"""``(vertices (V,3), faces (F,3), colors (V,3), azimuth_deg, elevation_deg, distance, target (3,))
-> image (H, W, 3) uint8``."""


@contextlib.contextmanager
def offscreen_render_fn(size: tuple[int, int]) -> Iterator[RenderFn]:
    """A :data:`RenderFn` on the offscreen OpenGL renderer, released on exit."""
    from avatarclip_studio.render.camera import orbit_camera
    from avatarclip_studio.render.offscreen import OffscreenRenderer

    renderer = OffscreenRenderer(size[0], size[1])

    def render(vertices, faces, colors, azimuth, elevation, distance, target):  # type: ignore[no-untyped-def]
        camera = orbit_camera(azimuth, elevation, distance, target=tuple(target), fov_deg=_FOV_DEG)
        return renderer.render_mesh(vertices, faces, colors, camera=camera, shading="color")

    try:
        yield render
    finally:
        release = getattr(renderer, "release", None)
        if callable(release):
            release()


def framing(samples: np.ndarray) -> tuple[np.ndarray, float]:
    """Camera target (3,) and distance that keep every point of ``samples (..., 3)`` in view."""
    points = samples.reshape(-1, 3)
    lo, hi = points.min(axis=0), points.max(axis=0)
    target = (lo + hi) / 2
    radius = float(np.linalg.norm(hi - lo) / 2)
    return target.astype(np.float32), 1.1 * radius / np.sin(np.radians(_FOV_DEG / 2))


def _sample_poses(avatar: SkinnedAvatar, motion: MotionClip | None) -> np.ndarray:
    if motion is None:
        return avatar.vertices
    frames = np.unique(np.linspace(0, motion.num_frames - 1, _FRAMING_SAMPLES).round().astype(int))
    return pose_avatar(avatar, motion.poses[frames], motion.trans[frames])


def turntable_frames(
    avatar: SkinnedAvatar, config: ExportConfig, render_fn: RenderFn
) -> Iterator[np.ndarray]:
    """One full turn around the rest-pose avatar in ``config.turntable_seconds``."""
    target, distance = framing(avatar.vertices)
    count = max(1, round(config.turntable_seconds * config.video_fps))
    for k in range(count):
        yield render_fn(
            avatar.vertices,
            avatar.faces,
            avatar.colors,
            360.0 * k / count,
            config.camera_elevation,
            distance,
            target,
        )


def animation_frames(
    avatar: SkinnedAvatar, motion: MotionClip, config: ExportConfig, render_fn: RenderFn
) -> Iterator[np.ndarray]:
    """The avatar playing ``motion``, one image per motion frame, seen from the front."""
    target, distance = framing(_sample_poses(avatar, motion))
    for t in range(motion.num_frames):
        vertices = pose_avatar(avatar, motion.poses[t], motion.trans[t])
        yield render_fn(vertices, avatar.faces, avatar.colors, 0.0, config.camera_elevation, distance, target)


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float) -> Path:
    """Encode ``frames`` (H, W, 3) uint8 as ``.mp4`` (H.264) or ``.gif``, atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ExportError(f"{path}: unknown video format {suffix!r} (known: {', '.join(VIDEO_SUFFIXES)})")
    with atomic_path(path) as tmp:
        count = _write_mp4(tmp, frames, fps) if suffix == ".mp4" else _write_gif(tmp, frames, fps)
        if count == 0:
            raise ExportError(f"{path}: no frames to write")
    return path


def _write_mp4(tmp: Path, frames: Iterable[np.ndarray], fps: float) -> int:
    count = 0
    encoder = None
    try:
        for frame in frames:
            frame = np.ascontiguousarray(frame, np.uint8)
            if encoder is None:
                # yuv420p plays everywhere; it needs even sides (macro_block_size=2 pads odd ones)
                encoder = write_frames(
                    str(tmp),
                    (frame.shape[1], frame.shape[0]),
                    fps=fps,
                    codec="libx264",
                    pix_fmt_out="yuv420p",
                    macro_block_size=2,
                    ffmpeg_log_level="error",
                )
                encoder.send(None)
            encoder.send(frame)
            count += 1
    finally:
        # closing waits for ffmpeg to exit, so a failed file is complete before it is removed
        if encoder is not None:
            encoder.close()
    return count


def _write_gif(tmp: Path, frames: Iterable[np.ndarray], fps: float) -> int:
    # palette images as they come: a quarter of the memory of RGB frames
    images = [Image.fromarray(np.asarray(f, np.uint8)).quantize(256) for f in frames]
    if images:
        # GIF delays are whole centiseconds
        delay = max(2, round(100 / fps)) * 10
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=delay, loop=0)
    return len(images)


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 image as PNG, atomically."""
    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(image, np.uint8)).save(tmp, format="PNG")
    return Path(path)


def screenshot(
    avatar: SkinnedAvatar, config: ExportConfig, render_fn: RenderFn, azimuth: float = 20.0
) -> np.ndarray:
    """The rest-pose avatar from the front-right, (H, W, 3) uint8."""
    target, distance = framing(avatar.vertices)
    return render_fn(
        avatar.vertices, avatar.faces, avatar.colors, azimuth, config.camera_elevation, distance, target
    )
