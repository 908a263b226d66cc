"""Checks of the GL viewport on a real X server (run by test_viewport.py in a child process).

Each check reads back what the view drew. Screenshots of the window go to artifacts/screenshots/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fake_pipeline import FakePipeline, snapshot_mesh, write_run
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QImage

from avatarclip_studio.ui.main_window import MainWindow
from avatarclip_studio.ui.viewport import BACKGROUND

SHOTS = Path(__file__).parents[2] / "artifacts" / "screenshots"
PROMPTS = {"shape": "a tall and skinny person", "appearance": "a firefighter", "motion": "a person is waving"}


def to_array(image: QImage) -> np.ndarray:
    """(H, W, 3) uint8."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=h * stride).reshape(h, stride)
    return data[:, : w * 3].reshape(h, w, 3).copy()


def foreground(pixels: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels clearly unlike the background (the grid's thin lines are few)."""
    background = np.asarray(BACKGROUND) * 255
    return np.abs(pixels.astype(float) - background).max(axis=2) > 40


@pytest.fixture(scope="module")
def studio(qapp, tmp_path_factory):
    """One window for all checks: Qt's EGL windows are not re-created reliably within one process."""
    folder = tmp_path_factory.mktemp("studio")
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(runs_root=folder / "runs", settings=settings, job_factory=FakePipeline())
    win.resize(1600, 960)
    win.show()
    yield win
    win.close()


@pytest.fixture
def window(qtbot, studio):
    qtbot.waitExposed(studio)
    qtbot.waitUntil(lambda: studio.viewport.draw_ms() is not None, timeout=20000)
    assert studio.viewport.gl_error == ""
    studio.scene.clear()
    studio.playback.set_content(None, None)
    studio.viewport.controller.reset()
    for name, action in studio.actions_.render_modes.items():
        action.setChecked(name == "textured")
    studio.set_render_mode("textured")
    studio.actions_.grid.setChecked(False)  # only the content differs from the background
    studio.actions_.skeleton.setChecked(False)
    return studio


def view(qtbot, window) -> np.ndarray:
    """The pixels of the view after the pending redraw."""
    window.viewport.redraw()
    qtbot.wait(150)
    return to_array(window.viewport.grab_image())


def test_the_opened_avatar_is_drawn(qtbot, window, tmp_path):
    empty = view(qtbot, window)
    window.open_run(write_run(tmp_path / "run", PROMPTS).path)
    pixels = view(qtbot, window)
    assert pixels.shape[:2] == (window.viewport.height(), window.viewport.width())
    assert foreground(empty).mean() < 0.01
    covered = foreground(pixels)
    assert 0.02 < covered.mean() < 0.6
    rows, cols = np.nonzero(covered)
    # framed: the figure's box is centred in the view
    assert abs((cols.min() + cols.max()) / 2 / pixels.shape[1] - 0.5) < 0.1
    assert abs((rows.min() + rows.max()) / 2 / pixels.shape[0] - 0.5) < 0.15


def test_a_new_snapshot_changes_the_image(qtbot, window):
    window.scene.set_mesh(*_mesh_arrays(1))
    small = foreground(view(qtbot, window)).mean()
    window.scene.set_mesh(*_mesh_arrays(6))  # bigger sphere, same camera
    big = foreground(view(qtbot, window)).mean()
    assert big > small * 1.5


def _mesh_arrays(step: int):
    snap = snapshot_mesh(step)
    return snap.vertices, snap.faces, snap.colors


def test_scrubbing_the_timeline_moves_the_avatar(qtbot, window, tmp_path):
    window.open_run(write_run(tmp_path / "run", PROMPTS).path)
    first = view(qtbot, window)
    window.timeline.slider.setValue(6)  # the arm is raised most
    raised = view(qtbot, window)
    changed = np.abs(first.astype(int) - raised.astype(int)).max(axis=2) > 40
    assert changed.mean() > 0.002
    window.timeline.slider.setValue(0)
    np.testing.assert_array_equal(view(qtbot, window), first)


def test_gray_mode_is_gray_and_orbiting_changes_the_view(qtbot, window, tmp_path):
    window.open_run(write_run(tmp_path / "run", PROMPTS).path)
    window.actions_.render_modes["gray"].trigger()
    pixels = view(qtbot, window)
    figure = pixels[foreground(pixels)].astype(int)
    assert len(figure) > 1000
    assert np.abs(figure - figure.mean(axis=1, keepdims=True)).max() <= 3
    window.viewport.controller.orbit(225.0, 0.0)  # 90 degrees: the side view is narrower
    side = foreground(view(qtbot, window))
    assert np.ptp(np.nonzero(side)[1]) < 0.6 * np.ptp(np.nonzero(foreground(pixels))[1])


def test_screenshots_of_the_window(qtbot, window, tmp_path):
    """A run with the fake pipeline (the plots fill), then an avatar mid-motion; both saved as PNGs."""
    for key, text in PROMPTS.items():
        window.prompt_panel.edits[key].setText(text)
    qtbot.mouseClick(window.prompt_panel.generate, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.running, timeout=30000)
    window.actions_.skeleton.setChecked(True)
    window.actions_.grid.setChecked(True)
    window.timeline.slider.setValue(5)
    view(qtbot, window)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = window.grab_window()
    assert shot.save(str(SHOTS / "studio_run_finished.png"))
    pixels = to_array(shot)
    offset = window.viewport.mapTo(window, window.viewport.rect().topLeft())
    inside = pixels[
        offset.y() : offset.y() + window.viewport.height(), offset.x() : offset.x() + window.viewport.width()
    ]
    assert foreground(inside).mean() > 0.02  # the composed screenshot holds the 3D view
    window.save_screenshot(tmp_path / "view.png")
    assert QImage(str(tmp_path / "view.png")).size() == window.viewport.grab_image().size()


def test_screenshot_of_the_shipped_body_waving(qtbot, window, tmp_path):
    """The open body model, rigged with its own weights and coloured as 'a red shirt and blue trousers'."""
    import torch

    from avatarclip_studio.avatar.skinned import SkinnedAvatar
    from avatarclip_studio.body.config import BodyConfig
    from avatarclip_studio.body.model import default_body_path, load_body_model

    if not default_body_path().exists():
        pytest.skip("the body model is not in resources/body")
    body = load_body_model(BodyConfig(), "cpu")
    with torch.no_grad():
        vertices, joints = (t[0].numpy() for t in body.rest(None))
    neck, hips = joints[12, 1], joints[0, 1]
    colors = np.where((vertices[:, 1] > hips)[:, None], [0.75, 0.12, 0.1], [0.15, 0.25, 0.55])
    colors[vertices[:, 1] > neck] = [0.85, 0.65, 0.5]
    run = write_run(tmp_path / "run", PROMPTS)
    SkinnedAvatar(
        vertices.astype(np.float32),
        body.faces.numpy().astype(np.int32),
        colors.astype(np.float32),
        body.lbs_weights.numpy().astype(np.float32),
        joints.astype(np.float32),
    ).save(str(run.file("avatar.npz")))
    window.open_run(run.path)
    window.actions_.grid.setChecked(True)
    window.viewport.controller.orbit(-60.0, 10.0)
    window.timeline.slider.setValue(5)
    pixels = view(qtbot, window)
    assert foreground(pixels).mean() > 0.05
    assert window.grab_window().save(str(SHOTS / "studio_body.png"))
