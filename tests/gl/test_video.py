"""Videos and screenshots through the real offscreen OpenGL renderer (run with tests/gl)."""

from __future__ import annotations

import numpy as np
import pytest
from imageio_ffmpeg import count_frames_and_secs
from PIL import Image

from avatarclip_studio.avatar.skinning import make_skinned_avatar
from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.model import load_body_model
from avatarclip_studio.export.config import ExportConfig
from avatarclip_studio.export.exporter import export_run
from avatarclip_studio.export.video import offscreen_render_fn, screenshot, turntable_frames
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.io import save_npz

offscreen = pytest.importorskip("avatarclip_studio.render.offscreen")
CONFIG = ExportConfig(video_size=(96, 96), video_fps=8.0, turntable_seconds=0.5)
RED = (0.8, 0.2, 0.1)


@pytest.fixture(scope="module")
def avatar():
    body = load_body_model(BodyConfig())
    rest = body.rest(None)[0][0].numpy()
    colors = np.tile([RED], (len(rest), 1)).astype(np.float32)
    return make_skinned_avatar(rest, body.faces.numpy(), colors, body, None)


@pytest.fixture(scope="module")
def render():
    try:
        with offscreen_render_fn(CONFIG.video_size) as fn:
            yield fn
    except offscreen.RenderUnavailable as exc:
        pytest.skip(f"no OpenGL context: {exc}")


def test_screenshot_shows_the_avatar_centred_in_its_colour(avatar, render):
    image = screenshot(avatar, CONFIG, render)
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8
    body = np.abs(image.astype(int) - 255).sum(axis=2) > 30  # not the white background
    assert 0.03 < body.mean() < 0.6
    rows, cols = np.nonzero(body)
    assert abs(cols.mean() - 48) < 12 and abs(rows.mean() - 48) < 12
    mean = image[body].mean(axis=0)
    assert mean[0] > mean[1] + 40 and mean[0] > mean[2] + 40  # red dominates (the vertex colour)


def test_turntable_turns(avatar, render):
    frames = list(turntable_frames(avatar, CONFIG, render))
    assert len(frames) == 4
    assert np.abs(frames[0].astype(int) - frames[1].astype(int)).mean() > 1.0


def test_export_run_renders_png_and_mp4(tmp_path, avatar):
    run = tmp_path / "run"
    run.mkdir()
    avatar.save(str(run / "avatar.npz"))
    rng = np.random.default_rng(0)
    save_npz(run / "motion.npz", MotionClip(rng.normal(0, 0.2, (5, 24, 3)), np.zeros((5, 3)), 10.0))
    try:
        png, mp4 = export_run(run, ["png", "mp4"], config=CONFIG)
    except offscreen.RenderUnavailable as exc:
        pytest.skip(f"no OpenGL context: {exc}")
    assert np.asarray(Image.open(png)).std() > 5
    frames, seconds = count_frames_and_secs(str(mp4))
    assert frames == 5 and seconds == pytest.approx(0.5, abs=0.05)
