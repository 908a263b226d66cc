"""The offscreen renderer: images of a body-like mesh in each shading mode, masks, depth, batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import assert_images_close
from PIL import Image

from avatarclip_studio.render.camera import orbit_camera, project
from avatarclip_studio.render.geometry import MeshInputError
from avatarclip_studio.render.offscreen import OffscreenRenderer, save_png

REFERENCE = Path(__file__).parent / "data" / "body_gray_96.png"
FRONT = orbit_camera(0.0, 0.0, 2.4, target=(0.0, 0.85, 0.0))
WHITE = 255


def _foreground(image: np.ndarray) -> np.ndarray:
    return np.abs(image.astype(int) - WHITE).sum(axis=2) > 12


def test_gray_render_is_centred_grey_and_matches_the_reference(gl: OffscreenRenderer, body) -> None:
    vertices, faces = body
    image = gl.render_mesh(vertices, faces, None, FRONT, shading="gray")
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8
    fg = _foreground(image)
    rows, cols = np.nonzero(fg)
    assert abs(cols.mean() - 47.5) < 2  # symmetric figure, centred horizontally
    # head top (y = 1.67) and feet (y = 0) land on the rows the camera maths predicts
    top, bottom = project(FRONT, np.array([[0, 1.67, 0.0], [0, 0.0, 0.0]]), 96, 96)[:, 1]
    assert rows.min() == pytest.approx(top, abs=2) and rows.max() == pytest.approx(bottom, abs=2)
    pixels = image[fg].astype(int)
    assert np.abs(pixels[:, 0] - pixels[:, 2]).max() <= 1  # grey: R = G = B
    assert pixels[:, 0].max() > 200 and pixels[:, 0].min() < 150  # lit centre, darker silhouette edge
    assert_images_close(image, np.asarray(Image.open(REFERENCE).convert("RGB")), "body_gray_96")


def test_color_mode_shows_the_vertex_colours(gl: OffscreenRenderer, body) -> None:
    vertices, faces = body
    colors = np.where(vertices[:, :1] > 0, [[0.9, 0.1, 0.1]], [[0.1, 0.2, 0.9]]).astype(np.float32)
    image = gl.render_mesh(vertices, faces, colors, FRONT, shading="color").astype(int)
    fg = _foreground(image)
    left, right = fg.copy(), fg.copy()
    left[:, 48:], right[:, :48] = False, False  # +x (the red side) is on the image's right at azimuth 0
    assert image[right][:, 0].mean() > image[right][:, 2].mean() + 100
    assert image[left][:, 2].mean() > image[left][:, 0].mean() + 100


def test_normals_mode_differs_left_and_right(gl: OffscreenRenderer, body) -> None:
    vertices, faces = body
    image = gl.render_mesh(vertices, faces, None, FRONT, shading="normals").astype(int)
    torso = image[34:42]  # rows of the torso (y ≈ 1.0–1.3 m); it spans columns ≈ 43–52
    assert torso[:, 51, 0].mean() > torso[:, 44, 0].mean() + 60  # camera-space normal x grows to the right
    assert torso[:, 47:49, 2].mean() > 235  # facing the camera: normal ≈ +z → blue ≈ 1


def test_background_wireframe_and_light_direction(gl: OffscreenRenderer, body) -> None:
    vertices, faces = body
    black = gl.render_mesh(vertices, faces, None, FRONT, background=(0.0, 0.0, 0.0))
    assert (black[0, 0] == 0).all()
    plain = gl.render_mesh(vertices, faces, None, FRONT, background=(0.0, 0.0, 0.0))
    wire = gl.render_mesh(vertices, faces, None, FRONT, background=(0.0, 0.0, 0.0), wireframe=True)
    assert (wire.astype(int).sum(axis=2) < plain.astype(int).sum(axis=2) - 100).mean() > 0.02  # dark edges
    from_right = gl.render_mesh(vertices, faces, None, FRONT, light_dir=(1.0, 0.0, 0.0), ambient=0.1).astype(
        int
    )
    assert from_right[38, 51, 0] > from_right[38, 44, 0] + 60  # the torso's +x side is lit


def test_mask_and_depth(gl: OffscreenRenderer, body) -> None:
    vertices, faces = body
    mask = gl.render_mask(vertices, faces, FRONT)
    image = gl.render_mesh(vertices, faces, None, FRONT, background=(0.0, 0.0, 0.0))
    assert mask.dtype == bool and 0.05 < mask.mean() < 0.3
    fg = image.astype(int).sum(axis=2) > 12
    assert fg[mask].all() and (mask == fg).mean() > 0.97  # differ only on faint anti-aliased edges
    depth = gl.render_depth(vertices, faces, FRONT)
    assert np.isinf(depth[~mask]).mean() > 0.99
    # the torso front is 0.16 m in front of the target plane, 2.4 m away
    assert depth[38, 48] == pytest.approx(2.4 - 0.16, abs=0.02)


def test_render_many_matches_single_renders(gl: OffscreenRenderer, body) -> None:
    vertices, faces = body
    batch = np.stack([vertices, vertices + np.array([0.3, 0.0, 0.0], np.float32)])
    cameras = [FRONT, orbit_camera(90.0, 0.0, 2.4, target=(0.0, 0.85, 0.0))]
    images, masks = gl.render_many(batch, faces, None, cameras, return_mask=True)
    assert images.shape == (2, 96, 96, 3) and masks.shape == (2, 96, 96)
    for i in range(2):
        single = gl.render_mesh(batch[i], faces, None, cameras[i])
        assert np.abs(images[i].astype(int) - single).max() <= 1
    assert masks[1].mean() < 0.85 * masks[0].mean()  # side view, arms along the view axis: smaller


def test_default_camera_frames_any_mesh(gl: OffscreenRenderer, body) -> None:
    vertices, faces = body
    mask = gl.render_mask(vertices * 100.0 + 50.0, faces)  # centimetres, far from the origin
    rows = np.nonzero(mask)[0]
    assert rows.min() > 0 and rows.max() < 95 and rows.max() - rows.min() > 50


def test_bad_input_raises_clear_errors(gl: OffscreenRenderer, body) -> None:
    vertices, faces = body
    with pytest.raises(MeshInputError, match="faces index"):
        gl.render_mesh(vertices, faces + len(vertices), None, FRONT)
    with pytest.raises(MeshInputError, match="NaN"):
        gl.render_mesh(np.full_like(vertices, np.nan), faces, None, FRONT)
    with pytest.raises(MeshInputError, match="colours"):
        gl.render_mesh(vertices, faces, np.ones((3, 3), np.float32), FRONT)
    with pytest.raises(ValueError, match="shading"):
        gl.render_mesh(vertices, faces, None, FRONT, shading="toon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one camera per mesh"):
        gl.render_many(vertices[None], faces, None, [FRONT, FRONT])


def test_save_png_round_trips(tmp_path: Path) -> None:
    image = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    save_png(image, tmp_path / "a" / "x.png")
    assert (np.asarray(Image.open(tmp_path / "a" / "x.png")) == image).all()
    with pytest.raises(ValueError, match="uint8"):
        save_png(image.astype(np.float32), tmp_path / "y.png")


def test_two_renderers_coexist(gl: OffscreenRenderer, body) -> None:
    vertices, faces = body
    before = gl.render_mesh(vertices, faces, None, FRONT)
    with OffscreenRenderer(32, 32) as other:  # a second context, current while it draws
        small = other.render_mesh(vertices, faces, None, FRONT)
        assert (_foreground(small)).mean() > 0.05
        assert np.array_equal(gl.render_mesh(vertices, faces, None, FRONT), before)
    assert np.array_equal(gl.render_mesh(vertices, faces, None, FRONT), before)
