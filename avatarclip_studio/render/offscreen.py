"""Headless rendering to numpy images: tests, code-books, guidance training data, videos.

:class:`OffscreenRenderer` owns a standalone OpenGL context (EGL, so no X server is needed; the default
backend otherwise) and a multisampled framebuffer of fixed size. Everything it draws goes through
:class:`~avatarclip_studio.render.renderer.SceneRenderer`, the same code as the viewport.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol, TypeVar

import moderngl
import numpy as np

from avatarclip_studio.render.camera import Camera, orbit_camera
from avatarclip_studio.render.geometry import MeshInputError, NormalSolver, check_mesh
from avatarclip_studio.render.renderables import MeshRenderable, Renderable
from avatarclip_studio.render.renderer import SceneRenderer
from avatarclip_studio.render.settings import RenderMode, RenderSettings
from avatarclip_studio.utils.atomic import atomic_path

Shading = Literal["gray", "color", "textured", "normals"]
_MODES: dict[str, RenderMode] = {
    "gray": "gray",
    "color": "textured",
    "textured": "textured",
    "normals": "normals",
}


class Releasable(Protocol):
    def release(self) -> None: ...


R = TypeVar("R", bound=Releasable)


class RenderUnavailable(RuntimeError):
    """No OpenGL context could be created (no EGL, no display, no driver)."""


def create_standalone_context() -> moderngl.Context:
    """A GL ≥ 3.3 context without a window: EGL first, then the platform's default backend."""
    errors = []
    for backend in ("egl", None):
        try:
            if backend is None:
                return moderngl.create_standalone_context(require=330)
            # the stub types **settings wrongly as dict values
            return moderngl.create_standalone_context(require=330, backend=backend)  # type: ignore[arg-type]
        except Exception as exc:  # every backend fails differently (ImportError, OSError, moderngl.Error)
            errors.append(f"{backend or 'default'}: {exc}")
    raise RenderUnavailable("cannot create an offscreen OpenGL 3.3 context (" + "; ".join(errors) + ")")


def default_camera(vertices: np.ndarray, fov_deg: float = 60.0) -> Camera:
    """A front view (azimuth 0) that frames every vertex of ``vertices (V, 3)``."""
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    radius = max(float(np.linalg.norm(hi - lo)) / 2, 1e-3)
    center = (float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2, float(lo[2] + hi[2]) / 2)
    distance = 1.1 * radius / float(np.sin(np.radians(fov_deg / 2)))
    return orbit_camera(0.0, 0.0, distance, center, fov_deg, near=distance / 100, far=distance * 10)


def is_software(ctx: moderngl.Context) -> bool:
    """Whether ``ctx`` rasterises on the CPU (Mesa llvmpipe / softpipe / swrast)."""
    name = str(ctx.info.get("GL_RENDERER", "")).lower()
    return any(kind in name for kind in ("llvmpipe", "softpipe", "swrast"))


class OffscreenRenderer:
    """Renders ``width`` × ``height`` RGB images (uint8, row 0 at the top), anti-aliased when ``samples``
    > 1. Not thread-safe; one instance per thread. Use as a context manager or call :meth:`release`.
    Several renderers may coexist: each public method first makes its own context current (and leaves
    it so); code that uses ``renderer.ctx`` directly calls :meth:`make_current` first.

    Anti-aliasing: ``samples``× MSAA on a GPU; on a software rasteriser 2 × 2 supersampling instead
    (``supersample`` None picks), which gives the same edges at half MSAA's cost there because llvmpipe
    is bound by triangle setup, not by pixels (see docs/benchmarks/render.md).
    """

    def __init__(self, width: int, height: int, samples: int = 4, supersample: bool | None = None) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"render size must be positive, got {width}×{height}")
        self.width, self.height = int(width), int(height)
        self.ctx = create_standalone_context()
        if supersample is None:
            supersample = samples > 1 and is_software(self.ctx)
        self.scale = 2 if supersample else 1
        """Supersampling factor per axis (1: none)."""
        self.samples = (
            0 if supersample or samples <= 1 else min(samples, int(self.ctx.info["GL_MAX_SAMPLES"]))
        )
        """MSAA samples of the draw target (0: none)."""
        size = (self.width, self.height)
        self._color = self.ctx.texture(size, 4)
        self._depth = self.ctx.depth_texture(size)
        self.resolved = self.ctx.framebuffer([self._color], self._depth)
        """Single-sample target at the output size: depth renders, and images when not supersampling."""
        big = (self.width * self.scale, self.height * self.scale)
        if self.samples or self.scale > 1:
            self._target_color = self.ctx.renderbuffer(big, 4, samples=self.samples)
            self._target_depth = self.ctx.depth_renderbuffer(big, samples=self.samples)
            self.target = self.ctx.framebuffer([self._target_color], self._target_depth)
        else:
            self.target = self.resolved
        self.scene = SceneRenderer(self.ctx)
        self._mesh: MeshRenderable | None = None
        self._extras: dict[object, Releasable] = {}

    # the general path
    def render_scene(
        self, camera: Camera, renderables: Sequence[Renderable], settings: RenderSettings | None = None
    ) -> np.ndarray:
        """Any renderables (created in this renderer's context on first use) → (H, W, 3) uint8."""
        self.make_current()
        self._draw(camera, renderables, settings or RenderSettings())
        return self._read_rgba()[..., :3].copy()

    # single meshes
    def render_mesh(
        self,
        vertices: np.ndarray,
        faces: np.ndarray,
        colors: np.ndarray | None = None,
        camera: Camera | None = None,
        shading: Shading = "gray",
        background: tuple[float, float, float] = (1.0, 1.0, 1.0),
        light_dir: tuple[float, float, float] | None = None,
        ambient: float = 0.2,
        wireframe: bool = False,
    ) -> np.ndarray:
        """``vertices (V, 3)``, ``faces (F, 3)``, ``colors (V, 3)`` in [0, 1] (None: light grey) →
        (H, W, 3) uint8. ``camera`` None frames the mesh from the front; the light follows the camera
        unless ``light_dir`` (world, toward the light) is given; grey shading is ``A + (1 − A)·(n·l)``."""
        settings = self._settings(shading, background, light_dir, ambient, wireframe)
        self.make_current()
        mesh = self._mesh_renderable(vertices, faces, colors)
        return self.render_scene(camera or default_camera(mesh.vertices), [mesh], settings)

    def render_mask(
        self, vertices: np.ndarray, faces: np.ndarray, camera: Camera | None = None
    ) -> np.ndarray:
        """Silhouette (H, W) bool: pixels at least half covered by the mesh."""
        self.make_current()
        mesh = self._mesh_renderable(vertices, faces, None)
        self._draw(camera or default_camera(mesh.vertices), [mesh], self._settings("gray", (0, 0, 0)))
        return self._read_rgba()[..., 3] >= 128

    def render_depth(
        self, vertices: np.ndarray, faces: np.ndarray, camera: Camera | None = None
    ) -> np.ndarray:
        """Distance along the view axis (H, W) float32 in scene units; ``inf`` where no surface."""
        self.make_current()
        mesh = self._mesh_renderable(vertices, faces, None)
        camera = camera or default_camera(mesh.vertices)
        settings = self._settings("gray", (0, 0, 0))
        self.scene.render(self.resolved, camera, [mesh], settings, clear_alpha=0.0)
        raw = np.frombuffer(self._depth.read(alignment=1), np.float32).reshape(self.height, self.width)[::-1]
        ndc = 2.0 * raw.astype(np.float64) - 1.0
        n, f = camera.near, camera.far
        depth = 2.0 * n * f / (f + n - ndc * (f - n))
        return np.where(raw < 1.0, depth, np.inf).astype(np.float32)

    # many meshes of one topology
    def render_many(
        self,
        vertex_batches: np.ndarray,
        faces: np.ndarray,
        colors: np.ndarray | None,
        cameras: Sequence[Camera],
        shading: Shading = "gray",
        background: tuple[float, float, float] = (1.0, 1.0, 1.0),
        light_dir: tuple[float, float, float] | None = None,
        ambient: float = 0.2,
        return_mask: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """``vertex_batches (N, V, 3)`` with shared ``faces (F, 3)``, ``colors (N, V, 3)`` or None, one
        camera each → images (N, H, W, 3) uint8 (and masks (N, H, W) bool with ``return_mask``).

        The buffers are allocated once and rewritten; normals are computed for the whole batch at once.
        """
        verts = np.ascontiguousarray(vertex_batches, np.float32)
        faces = np.ascontiguousarray(faces, np.int32)
        if verts.ndim != 3:
            raise MeshInputError(f"vertex batches must be (N, V, 3), got {verts.shape}")
        check_mesh(verts, faces, None if colors is None else np.asarray(colors))
        if len(cameras) != len(verts):
            raise ValueError(
                f"render_many needs one camera per mesh: {len(cameras)} cameras, {len(verts)} meshes"
            )
        settings = self._settings(shading, background, light_dir, ambient, False)
        normals = NormalSolver(faces, verts.shape[1])(verts)
        images = np.empty((len(verts), self.height, self.width, 3), np.uint8)
        masks = np.empty((len(verts), self.height, self.width), bool)
        self.make_current()
        mesh = self._mesh_renderable(verts[0], faces, None if colors is None else colors[0])
        for i, camera in enumerate(cameras):
            mesh.set_arrays(verts[i], normals[i], None if colors is None else colors[i])
            self._draw(camera, [mesh], settings)
            rgba = self._read_rgba()
            images[i] = rgba[..., :3]
            masks[i] = rgba[..., 3] >= 128
        return (images, masks) if return_mask else images

    # internals
    @staticmethod
    def _settings(
        shading: str,
        background: tuple[float, float, float],
        light_dir: tuple[float, float, float] | None = None,
        ambient: float = 0.2,
        wireframe: bool = False,
    ) -> RenderSettings:
        if shading not in _MODES:
            raise ValueError(f"shading must be one of {sorted(_MODES)}, got {shading!r}")
        return RenderSettings(
            mode=_MODES[shading],
            wireframe=wireframe,
            show_grid=False,
            background=tuple(float(c) for c in background),  # type: ignore[arg-type]
            ambient=ambient,
            light_dir=light_dir,
        )

    def _mesh_renderable(
        self, vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None
    ) -> MeshRenderable:
        """The reused mesh renderable, holding these arrays (buffers kept when sizes match)."""
        vertices = np.asarray(vertices, np.float32)
        if self._mesh is None:
            self._mesh = MeshRenderable(vertices, faces, colors)
            self._mesh.create(self.ctx)
        else:
            self._mesh.update(vertices, faces, colors)
        return self._mesh

    def _draw(self, camera: Camera, renderables: Sequence[Renderable], settings: RenderSettings) -> None:
        if self.scale > 1:
            settings = replace(settings, pixel_scale=settings.pixel_scale * self.scale)
        self.scene.render(self.target, camera, renderables, settings, clear_alpha=0.0)
        if self.samples:
            self.ctx.copy_framebuffer(self.resolved, self.target)

    def _read_rgba(self) -> np.ndarray:
        """(H, W, 4) uint8 of the last draw, row 0 at the top; alpha is the coverage."""
        s = self.scale
        source = self.target if s > 1 else self.resolved
        raw = source.read(components=4, alignment=1)
        image = np.frombuffer(raw, np.uint8).reshape(self.height * s, self.width * s, 4)[::-1]
        if s == 1:
            return image
        # box filter as a sum of s² strided views (a reshape + sum over axes is ~5× slower)
        total = np.zeros((self.height, self.width, 4), np.uint16)
        for dy in range(s):
            for dx in range(s):
                total += image[dy::s, dx::s]
        return ((total + s * s // 2) // (s * s)).astype(np.uint8)

    def extra(self, key: object, factory: Callable[[moderngl.Context], R]) -> R:
        """A helper's GPU resources in this context (built by ``factory(ctx)`` once, released with it).
        Call :meth:`make_current` before using them: another renderer's context may be current."""
        if key not in self._extras:
            self.make_current()
            self._extras[key] = factory(self.ctx)
        return self._extras[key]  # type: ignore[return-value]

    # lifecycle
    def make_current(self) -> None:
        """Make this renderer's context the thread's current one. (Not ``with ctx:``: leaving that block
        makes no context current at all, which would break direct users of ``ctx``.)"""
        self.ctx.__enter__()

    def release(self) -> None:
        """Free every GPU resource and the context; the renderer is unusable afterwards."""
        self.make_current()
        if self._mesh is not None:
            self._mesh.release()
            self._mesh = None
        for item in self._extras.values():
            item.release()
        self._extras.clear()
        self.ctx.release()

    def __enter__(self) -> OffscreenRenderer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def save_png(image: np.ndarray, path: str | Path) -> None:
    """Write an (H, W, 3) or (H, W, 4) uint8 image, or an (H, W) mask, as PNG (atomically)."""
    from PIL import Image

    array = np.asarray(image)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if (
        array.dtype != np.uint8
        or array.ndim not in (2, 3)
        or (array.ndim == 3 and array.shape[2] not in (3, 4))
    ):
        raise ValueError(f"save_png needs (H, W[, 3|4]) uint8, got {array.shape} {array.dtype}")
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")
