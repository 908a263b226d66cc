"""The main window with a fake fast pipeline: prompts, run control, plots, status, timeline, shortcuts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fake_pipeline import write_run
from PySide6.QtCore import Qt

PROMPTS = {"shape": "a tall and skinny person", "appearance": "a firefighter", "motion": "waving"}


def type_prompts(qtbot, window, prompts=PROMPTS):
    for key, text in prompts.items():
        window.prompt_panel.edits[key].clear()
        qtbot.keyClicks(window.prompt_panel.edits[key], text)


def generate_and_wait(qtbot, window, timeout=20000):
    qtbot.mouseClick(window.prompt_panel.generate, Qt.MouseButton.LeftButton)
    assert window.running
    qtbot.waitUntil(lambda: not window.running, timeout=timeout)


def test_generate_updates_plots_status_and_opens_the_result(qtbot, window):
    type_prompts(qtbot, window)
    generate_and_wait(qtbot, window)
    window.plots.refresh()
    xs, total = window.plots.series["total"]
    assert xs[-1] == 20 and total[-1] == pytest.approx(1.5 / 20)
    assert total[0] > total[-1]
    assert set(window.plots.series) == {"clip", "geometry", "total", "steps/s"}
    assert window.plots.stage == "sculpt"
    preview = window.plots.preview
    assert preview.isVisible() and preview.pixmap().height() == 160 and preview.pixmap().width() == 120
    assert preview.toolTip() == "sculpt step 20: guidance view"
    assert window.prompt_panel.guidance.text() == "guidance model: fake guidance"
    # the finished run is opened: avatar shown, motion on the timeline, prompts kept
    assert window.run is not None and window.run.manifest.prompts == PROMPTS
    assert window.scene.avatar is not None
    assert window.timeline.counter.text().startswith("1 / 24")
    assert window.prompt_panel.generate.isEnabled() and not window.prompt_panel.stop.isEnabled()
    assert str(window.run.path.resolve()) == window.recent_runs()[0]


def test_snapshots_and_status_update_while_running(qtbot, window, fake):
    fake.steps, fake.step_seconds = 40, 0.03
    type_prompts(qtbot, window)
    qtbot.mouseClick(window.prompt_panel.generate, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.scene.mesh is not None, timeout=10000)
    qtbot.waitUntil(lambda: window.status.step.text().startswith("step "), timeout=10000)
    assert window.status.step.text().endswith("/40")
    assert window.status.stage.text() == "stage: sculpt"
    assert "ETA" in window.status.eta.text() and "steps/s" in window.status.eta.text()
    first = window.scene.mesh_revision
    radius = np.linalg.norm(window.scene.mesh.vertices, axis=1).max()
    qtbot.waitUntil(lambda: window.scene.mesh_revision > first + 2, timeout=10000)
    assert np.linalg.norm(window.scene.mesh.vertices, axis=1).max() > radius  # the sphere grows per step
    qtbot.waitUntil(lambda: not window.running, timeout=20000)


def test_pause_resume_and_stop_without_a_hang(qtbot, window, fake):
    fake.steps, fake.step_seconds = 10**6, 0.005
    type_prompts(qtbot, window)
    panel = window.prompt_panel
    qtbot.mouseClick(panel.generate, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: fake.steps_done > 3, timeout=10000)
    qtbot.mouseClick(panel.pause, Qt.MouseButton.LeftButton)
    assert panel.resume.isEnabled() and not panel.pause.isEnabled()
    qtbot.wait(150)
    paused_at = fake.steps_done
    qtbot.wait(300)
    assert fake.steps_done == paused_at
    qtbot.mouseClick(panel.resume, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: fake.steps_done > paused_at + 3, timeout=10000)
    qtbot.mouseClick(panel.stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.running, timeout=10000)
    assert window.status.stage.text() == "stopped"
    # the interrupted run is kept: Generate with the same prompts resumes it in the same folder
    assert window.run is not None and window.run.manifest.stages["sculpt"]["status"] == "running"
    stopped_in = window.run.path
    fake.steps = 3
    generate_and_wait(qtbot, window)
    assert window.run.path == stopped_in
    assert "resuming" in window.log.toPlainText()


def test_an_empty_prompt_is_refused_with_a_clear_message(qtbot, window):
    type_prompts(qtbot, window, {"shape": "   ", "appearance": "a firefighter"})
    qtbot.mouseClick(window.prompt_panel.generate, Qt.MouseButton.LeftButton)
    assert not window.running
    assert "shape prompt is empty" in window.prompt_panel.error.text()
    assert "shape prompt is empty" in window.status.currentMessage()


def test_a_failing_run_shows_the_error_and_the_window_keeps_working(qtbot, window, fake):
    fake.fail_at = 3
    type_prompts(qtbot, window)
    generate_and_wait(qtbot, window)
    assert window.status.stage.text() == "failed"
    assert window._dialog is not None and window._dialog.isVisible()
    assert "the fake stage broke on purpose" in window._dialog.text()
    assert "Traceback" in window.log.toPlainText()
    window._dialog.close()
    fake.fail_at = None
    generate_and_wait(qtbot, window)
    assert window.status.stage.text().startswith("opened")


def test_timeline_scrub_changes_the_counter_and_the_pose(qtbot, window, tmp_path):
    run = write_run(tmp_path / "run", PROMPTS)
    assert window.open_run(run.path)
    scene = window.scene
    assert scene.joint_transforms is not None  # frame 0 posed on opening
    rest_pose = scene.joint_transforms.copy()
    revision = scene.pose_revision
    window.timeline.slider.setValue(6)
    assert window.timeline.counter.text().startswith("7 / 24")
    assert scene.pose_revision > revision
    assert np.abs(scene.joint_transforms - rest_pose).max() > 0.5
    assert not np.allclose(scene.joints, window.playback.posed_joints(0))


def test_keyboard_shortcuts(qtbot, window, tmp_path):
    window.open_run(write_run(tmp_path / "run", PROMPTS).path)
    window.activateWindow()
    window.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.playback.frame == 2
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert window.playback.frame == 1
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.playback.playing and window.timeline.play.text() == "Pause"
    qtbot.waitUntil(lambda: window.playback.frame > 3, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.playback.playing
    qtbot.keyClick(window, Qt.Key.Key_H)
    assert window.help_overlay.isVisible() and "frame the avatar" in window.help_overlay.text()
    qtbot.keyClick(window, Qt.Key.Key_Question)
    assert not window.help_overlay.isVisible()
    camera = window.viewport.controller
    qtbot.keyClick(window, Qt.Key.Key_F)  # framed on the current pose, from the front
    before = np.array(camera.camera().eye, dtype=float)
    camera.orbit(120.0, 0.0)
    assert np.abs(np.array(camera.camera().eye, dtype=float) - before).max() > 1e-3
    qtbot.keyClick(window, Qt.Key.Key_R)
    np.testing.assert_allclose(np.array(camera.camera().eye, dtype=float), before, atol=1e-5)


def test_opening_a_folder_that_is_not_a_run_says_so(qtbot, window, tmp_path):
    assert not window.open_run(tmp_path / "nothing here")
    assert "is not a run folder" in window.status.currentMessage()
    assert window.run is None


def test_an_interrupted_run_opens_and_offers_to_resume(qtbot, window, tmp_path):
    run = write_run(tmp_path / "run", PROMPTS)
    run.stage_started("motion")  # killed during the motion stage
    assert window.open_run(run.path)
    assert window.status.stage.text() == "interrupted at motion"
    assert [e.text() for e in window.prompt_panel.edits.values()] == list(PROMPTS.values())


def test_recent_runs_menu_lists_opened_runs(qtbot, window, tmp_path):
    first = write_run(tmp_path / "a", PROMPTS).path
    second = write_run(tmp_path / "b", PROMPTS).path
    window.open_run(first)
    window.open_run(second)
    window.open_run(first)
    assert window.recent_runs() == [str(Path(first).resolve()), str(Path(second).resolve())]
    window.fill_recent_menu()
    assert [a.text() for a in window.recent_menu.actions()] == window.recent_runs()


def test_view_menu_toggles_reach_the_scene(qtbot, window):
    actions = window.actions_
    actions.render_modes["normals"].trigger()
    actions.wireframe.trigger()
    actions.grid.trigger()
    actions.skeleton.trigger()
    scene = window.scene
    assert (scene.mode, scene.wireframe, scene.show_grid, scene.show_skeleton) == (
        "normals",
        True,
        False,
        True,
    )


def test_screenshot_is_written_as_png(qtbot, window, tmp_path):
    out = tmp_path / "shots" / "view.png"
    window.save_screenshot(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_export_without_a_run_explains_what_to_do(qtbot, window):
    window.export(["glb"])
    assert not window.running
    assert "open or generate a run first" in window.status.currentMessage()


def test_export_writes_the_files_of_the_open_run(qtbot, window, tmp_path):
    run = write_run(tmp_path / "run", PROMPTS)
    window.open_run(run.path)
    window.export(["glb", "bvh"])
    assert window.running
    qtbot.waitUntil(lambda: not window.running, timeout=120000)
    assert "exported 2 file(s)" in window.status.currentMessage(), window.log.toPlainText()
    assert (run.path / "avatar.glb").read_bytes()[:4] == b"glTF"
    assert (run.path / "motion.bvh").read_text().startswith("HIERARCHY")


def test_opening_a_run_redraws_its_logged_loss_curves(qtbot, window, tmp_path):
    from avatarclip_studio.pipeline.loss_log import LOSS_LOG

    run = write_run(tmp_path / "run", PROMPTS)
    lines = [
        json.dumps({"stage": "sculpt", "step": s, "losses": {"total": 1.0 / s}, "steps_per_second": 0.5})
        for s in range(1, 11)
    ]
    run.file(LOSS_LOG).write_text("\n".join([*lines, '{"stage": "sculpt", "step": 11, "los']) + "\n")
    assert window.open_run(run.path)
    assert window.plots.stage == "sculpt"
    xs, ys = window.plots.series["total"]
    assert xs == [float(s) for s in range(1, 11)] and ys[0] == 1.0
    empty = write_run(tmp_path / "other", PROMPTS)
    assert window.open_run(empty.path)
    assert window.plots.series == {}
