"""The 3D view: a ``QOpenGLWindow`` drawing the :class:`ViewportScene` with the shared moderngl renderer,
embedded in the main window through a window container.

A window rather than a ``QOpenGLWidget``: a GL widget makes Qt compose the whole main window through
OpenGL every frame, which on Mesa's llvmpipe held a bare 1280×720 view at 14–18 FPS where the window
draws 85. moderngl wraps the window's own context (``create_context`` in ``initializeGL``) and draws
into its framebuffer, detected again on every paint since Qt may recreate it. Uploads happen in
``paintGL`` only, and only for what changed (scene revisions): a new snapshot re-fills the mesh
buffers, a new frame sends 24 joint matrices to the skinning shader.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import moderngl
import numpy as np
from PySide6.QtCore import QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QImage, QMouseEvent, QOpenGLContext, QSurfaceFormat, QWheelEvent
from PySide6.QtOpenGL import QOpenGLWindow
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from avatarclip_studio.render.camera import OrbitController
from avatarclip_studio.render.renderables import (
    GridRenderable,
    MeshRenderable,
    SkeletonRenderable,
    SkinnedMeshRenderable,
)
from avatarclip_studio.render.renderer import SceneRenderer
from avatarclip_studio.render.settings import RenderSettings
from avatarclip_studio.ui.scene import ViewportScene

BACKGROUND = (0.16, 0.17, 0.19)


def surface_format(samples: int = 0) -> QSurfaceFormat:
    """GL 3.3 core with a depth buffer: what the renderer's shaders need. Multisampling is off by
    default: 4× costs llvmpipe about 3× the frame time."""
    fmt = QSurfaceFormat()
    fmt.setVersion(3, 3)
    fmt.setProfile(QSurfaceFormat.OpenGLContextProfile.CoreProfile)
    fmt.setDepthBufferSize(24)
    fmt.setSamples(samples)
    fmt.setSwapInterval(0)  # paint when asked: playback has its own clock
    return fmt


class _Events(QObject):
    unavailable = Signal(str)


class SceneWindow(QOpenGLWindow):
    """Draws the scene; mouse: left drag orbits, right/middle drag pans, the wheel zooms. (Keys reach the
    main window's shortcuts: Qt matches window shortcuts through an embedded window's parent.)"""

    def __init__(self, scene: ViewportScene) -> None:
        super().__init__()
        self.setFormat(surface_format())
        self.scene = scene
        self.events = _Events()
        self.controller = OrbitController()
        self.ctx: moderngl.Context | None = None
        self.renderer: SceneRenderer | None = None
        self.gl_error = ""
        """Why the view cannot draw (no usable OpenGL)."""
        self.frame_seconds: deque[float] = deque(maxlen=120)
        """Wall time of the recent paints, for the draw-time readout and the benchmarks."""
        self._mesh: MeshRenderable | None = None
        self._skinned: SkinnedMeshRenderable | None = None
        self._grid: GridRenderable | None = None
        self._grid_points = np.zeros((0, 3), np.float32)
        self._skeleton: SkeletonRenderable | None = None
        self._revisions = (-1, -1, -1)
        self._drag: tuple[Qt.MouseButton, QPointF] | None = None

    # GL lifecycle
    def initializeGL(self) -> None:
        try:
            self.ctx = moderngl.create_context()
            self.renderer = SceneRenderer(self.ctx)
            self._grid = GridRenderable()
            self._grid_points = self._grid.points.copy()
            self._grid.create(self.ctx)
        except Exception as exc:  # any driver failure: the window must stay usable without a 3D view
            self.gl_error = f"OpenGL unavailable, the 3D view stays empty: {exc}"
            self.ctx = None
            self.events.unavailable.emit(self.gl_error)
            return
        self._revisions = (-1, -1, -1)
        context = self.context()
        if context is not None:
            context.aboutToBeDestroyed.connect(self._release)

    def _release(self) -> None:
        self.makeCurrent()
        for item in (self._mesh, self._skinned, self._grid, self._skeleton):
            if item is not None:
                item.release()
        self._mesh = self._skinned = self._grid = self._skeleton = None
        self.ctx = self.renderer = None
        self.doneCurrent()

    def paintGL(self) -> None:
        if self.ctx is None or self.renderer is None:
            return
        started = time.perf_counter()
        self._sync()
        framebuffer = self.ctx.detect_framebuffer(self.defaultFramebufferObject())
        ratio = self.devicePixelRatioF()
        framebuffer.viewport = (0, 0, int(self.width() * ratio), int(self.height() * ratio))
        self.controller.aspect = max(self.width(), 1) / max(self.height(), 1)
        self.renderer.render(framebuffer, self.controller.camera(), self._renderables(), self._settings())
        self.frame_seconds.append(time.perf_counter() - started)

    def _settings(self) -> RenderSettings:
        s = self.scene
        return RenderSettings(
            mode=s.mode,
            wireframe=s.wireframe,
            show_grid=s.show_grid,
            show_skeleton=s.show_skeleton,
            background=BACKGROUND,
        )

    def _renderables(self) -> list[Any]:
        items: list[Any] = [r for r in (self._mesh, self._skinned) if r is not None]
        if self._grid is not None:
            items.append(self._grid)
        if self._skeleton is not None:
            items.append(self._skeleton)
        return items

    def _sync(self) -> None:
        """Bring the GPU copies up to the scene's revisions."""
        assert self.ctx is not None
        s = self.scene
        mesh_rev, avatar_rev, pose_rev = self._revisions
        if s.mesh_revision != mesh_rev:
            if s.mesh is None:
                self._drop("_mesh")
            elif self._mesh is None:
                self._mesh = MeshRenderable(s.mesh.vertices, s.mesh.faces, s.mesh.colors)
                self._mesh.create(self.ctx)
            else:
                self._mesh.update(s.mesh.vertices, s.mesh.faces, s.mesh.colors)
        if s.avatar_revision != avatar_rev:
            self._drop("_skinned")
            self._drop("_skeleton")
            if s.avatar is not None:
                a = s.avatar
                self._skinned = SkinnedMeshRenderable(a.vertices, a.faces, a.colors, a.skin_weights)
                self._skinned.create(self.ctx)
                self._skeleton = SkeletonRenderable(a.joints, a.parents)
                self._skeleton.create(self.ctx)
        if self._grid is not None and (s.mesh_revision != mesh_rev or s.avatar_revision != avatar_rev):
            # the grid is the floor the content stands on (the body model's rest pose has its pelvis at 0)
            self._grid.set_lines(
                self._grid_points + np.array([0.0, s.floor_y, 0.0], np.float32), self._grid.colors
            )
        if self._skinned is not None and (s.pose_revision != pose_rev or s.avatar_revision != avatar_rev):
            pose = (
                s.joint_transforms
                if s.joint_transforms is not None
                else np.tile(np.eye(4, dtype=np.float32), (24, 1, 1))
            )
            self._skinned.set_pose(pose)
            if self._skeleton is not None and s.joints is not None:
                self._skeleton.update(s.joints)
        self._revisions = (s.mesh_revision, s.avatar_revision, s.pose_revision)

    def _drop(self, name: str) -> None:
        item = getattr(self, name)
        if item is not None:
            item.release()
            setattr(self, name, None)

    # input
    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._drag = (event.button(), event.position())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is None:
            return
        button, last = self._drag
        delta = event.position() - last
        self._drag = (button, event.position())
        if button == Qt.MouseButton.LeftButton:
            self.controller.orbit(delta.x(), delta.y())
        else:
            self.controller.pan(delta.x() / max(self.height(), 1), delta.y() / max(self.height(), 1))
        self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        self.controller.zoom(event.angleDelta().y() / 120.0)
        self.update()


class Viewport(QWidget):
    """The widget the main window holds: a container around the :class:`SceneWindow`."""

    def __init__(self, scene: ViewportScene, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scene = scene
        self.window_ = SceneWindow(scene)
        self.unavailable = self.window_.events.unavailable
        """Emitted once when OpenGL cannot be used; the window says why and keeps working."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.setMinimumSize(320, 240)
        if QOpenGLContext().create():
            container = QWidget.createWindowContainer(self.window_, self)
            container.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            layout.addWidget(container)
        else:  # e.g. Qt's offscreen platform: showing a GL window there crashes
            self.window_.gl_error = (
                f"no OpenGL on the {QGuiApplication.platformName()!r} platform: no 3D view"
            )
            layout.addWidget(QLabel(self.window_.gl_error, self), alignment=Qt.AlignmentFlag.AlignCenter)
            QTimer.singleShot(0, lambda: self.unavailable.emit(self.window_.gl_error))
        scene.add_listener(self.window_.update)

    @property
    def controller(self) -> OrbitController:
        return self.window_.controller

    @property
    def ctx(self) -> moderngl.Context | None:
        return self.window_.ctx

    @property
    def gl_error(self) -> str:
        return self.window_.gl_error

    def redraw(self) -> None:
        self.window_.update()

    def frame_scene(self) -> None:
        """Fit the camera to what is shown (F)."""
        bounds = self.scene.bounds()
        if bounds is not None:
            self.controller.aspect = max(self.width(), 1) / max(self.height(), 1)
            self.controller.frame(*bounds)
            self.redraw()

    def reset_view(self) -> None:
        """Back to the front view (R)."""
        self.controller.reset()
        self.frame_scene()
        self.redraw()

    def draw_ms(self) -> float | None:
        """Mean wall time of the recent paints, milliseconds (None before the first)."""
        seconds = self.window_.frame_seconds
        return 1000.0 * sum(seconds) / len(seconds) if seconds else None

    def grab_image(self) -> QImage:
        """What the view shows (blank where OpenGL is unavailable), at the view's size."""
        if self.window_.ctx is not None:
            return self.window_.grabFramebuffer()
        image = QImage(self.size(), QImage.Format.Format_RGB32)
        image.fill(Qt.GlobalColor.black)
        return image
