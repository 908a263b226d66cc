"""One frame of renderables into a framebuffer: the same code draws in the Qt widget and offscreen."""

from __future__ import annotations

from collections.abc import Sequence

import moderngl

from avatarclip_studio.render.camera import Camera
from avatarclip_studio.render.renderables import Renderable
from avatarclip_studio.render.settings import RenderMode, RenderSettings, ViewState

__all__ = ["RenderMode", "RenderSettings", "SceneRenderer"]


class SceneRenderer:
    """Clears a framebuffer and draws renderables with one camera and one set of :class:`RenderSettings`.

    Renderables not yet created in ``ctx`` are created on first draw (and then belong to ``ctx``).
    """

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx

    def render(
        self,
        framebuffer: moderngl.Framebuffer,
        camera: Camera,
        renderables: Sequence[Renderable],
        settings: RenderSettings | None = None,
        clear_alpha: float = 1.0,
    ) -> None:
        """Draw one frame; ``clear_alpha`` 0 leaves alpha = coverage (the silhouette) for offscreen reads."""
        settings = settings or RenderSettings()
        ctx = self.ctx
        framebuffer.use()
        _, _, width, height = framebuffer.viewport
        framebuffer.clear(*settings.background, clear_alpha, depth=1.0)
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.disable(moderngl.CULL_FACE)  # open meshes (and NeuS extractions) show their inside
        view = ViewState.make(camera, width / max(height, 1), settings)
        for item in renderables:
            if item.ctx is None:
                item.create(ctx)
            elif item.ctx is not ctx:
                raise RuntimeError(f"{type(item).__name__} belongs to another OpenGL context")
            item.draw(ctx, view, settings)
