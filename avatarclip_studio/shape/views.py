"""Grey renders of a body from the code-book's fixed views (front, then 3/4 left and right)."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, cast

import numpy as np

if TYPE_CHECKING:
    from avatarclip_studio.render.offscreen import OffscreenRenderer

ViewRenderer = Callable[[np.ndarray], np.ndarray]
"""Body vertices (V,3), metres, pelvis at the origin → (K,H,W,3) uint8 images, one per view."""

VIEW_AZIMUTHS_DEG = (0.0, 45.0, -45.0, 90.0, -90.0, 180.0)
"""Azimuths of the code-book views, in order; ``codebook_views`` takes the first ones."""
VIEW_DISTANCE = 2.1
"""Camera distance (m) at 60° field of view: the frame is 2.4 m high, room for a 2.2 m body. The camera
never zooms to fit, so a taller body looks taller — the query compares absolute sizes."""
VIEW_TARGET = (0.0, -0.05, 0.0)
"""Look-at point: the middle of a neutral body whose pelvis is at the origin."""
BACKGROUND = (1.0, 1.0, 1.0)


def view_azimuths(count: int) -> tuple[float, ...]:
    if not 1 <= count <= len(VIEW_AZIMUTHS_DEG):
        raise ValueError(f"codebook_views must be between 1 and {len(VIEW_AZIMUTHS_DEG)}, got {count}")
    return VIEW_AZIMUTHS_DEG[:count]


class GreyBodyViews:
    """A :data:`ViewRenderer` drawing ``faces`` grey-shaded with the project's offscreen renderer.

    The OpenGL context is created on the first render, so a code-book found in the cache costs none;
    :meth:`close` (or ``with``) releases it.
    """

    def __init__(self, faces: np.ndarray, views: int, size: int) -> None:
        from avatarclip_studio.render.camera import orbit_camera

        self._faces = np.ascontiguousarray(faces, dtype=np.int32)
        self._size = size
        azimuths = view_azimuths(views)
        self._cameras = [orbit_camera(a, 0.0, VIEW_DISTANCE, target=VIEW_TARGET) for a in azimuths]
        self._renderer: OffscreenRenderer | None = None

    def __call__(self, vertices: np.ndarray) -> np.ndarray:
        if self._renderer is None:
            from avatarclip_studio.render.offscreen import OffscreenRenderer

            # no MSAA: 2.3x faster on a software GL (llvmpipe); the guidance model barely sees the edges
            self._renderer = OffscreenRenderer(self._size, self._size, samples=0)
        batch = np.repeat(np.asarray(vertices, np.float32)[None], len(self._cameras), axis=0)
        images = self._renderer.render_many(batch, self._faces, None, self._cameras, background=BACKGROUND)
        return cast(np.ndarray, images)  # a tuple only with return_mask=True

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.release()
            self._renderer = None

    def __enter__(self) -> GreyBodyViews:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
