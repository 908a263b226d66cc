"""``export_run``: a run folder's avatar and motion to the files people open elsewhere.

A run folder holds ``avatar.npz`` (:meth:`SkinnedAvatar.save`) and, once animated, ``motion.npz``
(poses (T, 72), trans, fps). Used by ``avatarclip-studio export RUN --format ...``, by the pipeline's
export stage and by the UI.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from avatarclip_studio.avatar.skinned import SkinnedAvatar
from avatarclip_studio.config import load_config
from avatarclip_studio.export.checks import ExportError, check_mesh, check_motion
from avatarclip_studio.export.config import ExportConfig
from avatarclip_studio.export.gltf import write_glb
from avatarclip_studio.export.mesh import write_mesh
from avatarclip_studio.export.uv_bake import bake_texture
from avatarclip_studio.export.video import (
    RenderFn,
    animation_frames,
    offscreen_render_fn,
    screenshot,
    turntable_frames,
    write_png,
    write_video,
)
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.io import load_npz, save_bvh, save_npz

FORMATS = ("glb", "bvh", "npz", "ply", "obj", "mp4", "gif", "png")
AVATAR_FILE = "avatar.npz"
MOTION_FILE = "motion.npz"
RUN_CONFIG = "config.toml"
_NEEDS_MOTION = ("bvh", "npz")

RendererFactory = Callable[[tuple[int, int]], AbstractContextManager[RenderFn]]


class _Run:
    """The avatar and motion of a run folder, each read on first use."""

    def __init__(self, run_dir: Path, config: ExportConfig) -> None:
        self.run_dir = run_dir
        self.config = config
        self._avatar: SkinnedAvatar | None = None
        self._motion: MotionClip | None = None
        self._motion_read = False

    @property
    def avatar(self) -> SkinnedAvatar:
        if self._avatar is None:
            path = self.run_dir / AVATAR_FILE
            if not path.is_file():
                raise ExportError(f"{path}: missing; the run has no avatar yet (run the mesh stage first)")
            avatar = SkinnedAvatar.load(str(path))
            check_mesh(avatar.vertices, avatar.faces, what=str(path), max_vertices=self.config.max_vertices)
            self._avatar = avatar
        return self._avatar

    @property
    def motion(self) -> MotionClip | None:
        if not self._motion_read:
            path = self.run_dir / MOTION_FILE
            if path.is_file():
                self._motion = load_npz(path)
                check_motion(self._motion, what=str(path), max_frames=self.config.max_frames)
            self._motion_read = True
        return self._motion

    def needed_motion(self, fmt: str) -> MotionClip:
        if self.motion is None:
            raise ExportError(f"{fmt}: {self.run_dir / MOTION_FILE} is missing; animate the avatar first")
        return self.motion


def _write(run: _Run, fmt: str, out: Path, render: Callable[[], RenderFn]) -> Path:
    cfg = run.config
    if fmt == "glb":
        avatar = bake_texture(run.avatar, cfg.texture_size) if cfg.bake_texture else run.avatar
        return write_glb(out / "avatar.glb", avatar, run.motion)
    if fmt == "bvh":
        save_bvh(out / "motion.bvh", run.needed_motion(fmt), rest_joints=run.avatar.joints)
        return out / "motion.bvh"
    if fmt == "npz":
        save_npz(out / MOTION_FILE, run.needed_motion(fmt), betas=run.avatar.betas)
        return out / MOTION_FILE
    if fmt in ("ply", "obj"):
        a = run.avatar
        return write_mesh(out / f"avatar.{fmt}", a.vertices, a.faces, a.colors)
    if fmt == "png":
        return write_png(out / "avatar.png", screenshot(run.avatar, cfg, render()))
    # mp4 / gif: the animation when there is one, else a turntable
    motion = run.motion
    if motion is None:
        return write_video(
            out / f"turntable.{fmt}", turntable_frames(run.avatar, cfg, render()), cfg.video_fps
        )
    return write_video(
        out / f"animation.{fmt}", animation_frames(run.avatar, motion, cfg, render()), motion.fps
    )


def _run_config(run_path: Path) -> ExportConfig:
    """The export settings the run was made with (its ``config.toml``), else the defaults."""
    saved = run_path / RUN_CONFIG
    return load_config(saved).export if saved.is_file() else ExportConfig()


def export_run(
    run_dir: str | Path,
    formats: list[str],
    out_dir: str | Path | None = None,
    config: ExportConfig | None = None,
    renderer: RendererFactory = offscreen_render_fn,
) -> list[Path]:
    """Write each of ``formats`` (see :data:`FORMATS`) for the run in ``run_dir`` to ``out_dir`` (default:
    the run folder) and return the paths written, in order. ``config``: default the ``export`` section of
    the run's ``config.toml``; ``renderer``: what draws video frames and screenshots.

    Every file is written atomically. Raises :class:`ExportError` for an unknown format, a run without the
    avatar or motion a format needs, or an unusable mesh / motion; :class:`OutputError` for an
    unwritable folder.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ExportError(f"unknown export format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    run_path = Path(run_dir)
    if not run_path.is_dir():
        raise ExportError(f"{run_path}: not a run folder")
    run = _Run(run_path, config or _run_config(run_path))
    out = Path(out_dir) if out_dir is not None else run_path
    with _LazyRenderer(renderer, run.config.video_size) as render:
        return [_write(run, fmt, out, render) for fmt in dict.fromkeys(formats)]


class _LazyRenderer:
    """Opens the offscreen renderer only if a format draws something, and closes it at the end."""

    def __init__(self, factory: RendererFactory, size: tuple[int, int]) -> None:
        self._factory = factory
        self._size = size
        self._context: AbstractContextManager[RenderFn] | None = None
        self._fn: RenderFn | None = None

    def __enter__(self) -> Callable[[], RenderFn]:
        return self._get

    def _get(self) -> RenderFn:
        if self._fn is None:
            self._context = self._factory(self._size)
            self._fn = self._context.__enter__()
        return self._fn

    def __exit__(self, *exc: object) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
