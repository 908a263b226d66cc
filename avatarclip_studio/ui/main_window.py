"""The studio's main window: prompts on the left, the 3D view in the middle, plots, log and timeline in docks.

The window wires models to views and runs long work on a :class:`PipelineWorker`; it holds no pipeline
logic itself (``pipeline/runner.py`` does, the same code the CLI runs).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QSettings, Qt, QTimer
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMenu, QMessageBox, QWidget

from avatarclip_studio.config import ConfigError, StudioConfig, preset
from avatarclip_studio.guidance.base import PromptError
from avatarclip_studio.pipeline.events import MeshSnapshot, Progress
from avatarclip_studio.pipeline.loss_log import LOSS_LOG, read_loss_log
from avatarclip_studio.pipeline.run_dir import RunDir, RunError
from avatarclip_studio.ui.actions import build_actions
from avatarclip_studio.ui.help_overlay import HelpOverlay
from avatarclip_studio.ui.jobs import Job, export_job, pipeline_job
from avatarclip_studio.ui.loss_plots import LossPlots
from avatarclip_studio.ui.playback import PlaybackModel
from avatarclip_studio.ui.prompt_panel import PromptPanel
from avatarclip_studio.ui.run_content import load_run_content, unfinished_stages
from avatarclip_studio.ui.scene import RenderMode, ViewportScene
from avatarclip_studio.ui.status import LogView, StatusPanel
from avatarclip_studio.ui.timeline import Timeline
from avatarclip_studio.ui.viewport import Viewport
from avatarclip_studio.ui.worker import PipelineWorker

MAX_RECENT = 10
JobFactory = Callable[[Path, StudioConfig, dict[str, str]], Job]
"""(run folder, config, prompts) → the job a worker runs; the default runs the whole pipeline."""


def run_folder_name(prompts: dict[str, str]) -> str:
    """``20260101-120000-a-firefighter``: sortable, readable, safe on every file system."""
    slug = re.sub(r"[^a-z0-9]+", "-", prompts["appearance"].lower()).strip("-")[:40] or "avatar"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}"


class MainWindow(QMainWindow):
    def __init__(
        self,
        runs_root: str | Path = "runs",
        settings: QSettings | None = None,
        job_factory: JobFactory = pipeline_job,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("AvatarCLIP Studio")
        self.resize(1480, 920)
        self.runs_root = Path(runs_root)
        self.settings = settings if settings is not None else QSettings("AvatarCLIP", "Studio")
        self.job_factory = job_factory
        self.run: RunDir | None = None
        self.worker: PipelineWorker | None = None
        self._run_path: Path | None = None
        """The folder the running job writes to: after a stop or a failure, Generate resumes it."""
        self._finished_run: Path | None = None
        self._dialog: QMessageBox | None = None

        self.scene = ViewportScene()
        self.playback = PlaybackModel()
        self.viewport = Viewport(self.scene, self)
        self.setCentralWidget(self.viewport)
        self.help_overlay = HelpOverlay(self.viewport)

        self.prompt_panel = PromptPanel(self)
        self.plots = LossPlots(self)
        self.log = LogView(self)
        self.timeline = Timeline(self.playback, self)
        self.status = StatusPanel(self)
        self.setStatusBar(self.status)
        self.docks = [
            self._dock("Prompts", self.prompt_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            self._dock("Losses", self.plots, Qt.DockWidgetArea.RightDockWidgetArea),
            self._dock("Timeline", self.timeline, Qt.DockWidgetArea.BottomDockWidgetArea),
            self._dock("Log", self.log, Qt.DockWidgetArea.LeftDockWidgetArea),
        ]
        prompts, losses, timeline, log = self.docks
        self.resizeDocks([prompts, log], [260, 400], Qt.Orientation.Vertical)
        self.resizeDocks([prompts, losses], [360, 400], Qt.Orientation.Horizontal)
        self.resizeDocks([timeline], [50], Qt.Orientation.Vertical)
        self.recent_menu: QMenu | None = None
        self.actions_ = build_actions(self)

        self.prompt_panel.generate_requested.connect(self.generate)
        self.prompt_panel.pause_requested.connect(self.pause)
        self.prompt_panel.resume_requested.connect(self.resume)
        self.prompt_panel.stop_requested.connect(self.stop)
        self.playback.add_listener(self._on_frame)
        self.viewport.unavailable.connect(self._on_no_gl)
        self._draw_timer = QTimer(self)
        self._draw_timer.timeout.connect(lambda: self.status.set_draw_time(self.viewport.draw_ms()))
        self._draw_timer.start(1000)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}_dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # running the pipeline
    @property
    def running(self) -> bool:
        return self.worker is not None

    def generate(self) -> None:
        """Start (or resume, for an interrupted run with the same prompts) a run of the pipeline."""
        if self.running:
            return
        try:
            prompts = self.prompt_panel.prompts()
        except PromptError as exc:
            self.status.showMessage(str(exc), 10000)
            self.log.add(f"cannot start: {exc}")
            return
        config = preset(self.prompt_panel.preset.currentText())
        if self.run is not None and self.run.manifest.prompts == prompts and unfinished_stages(self.run):
            path = self.run.path
            try:  # its checkpoints were made with the config it saved
                config = self.run.config()
            except ConfigError as exc:
                self._error("Cannot resume", str(exc))
                return
            self.log.add(f"resuming {path}")
        else:
            path = self.runs_root / run_folder_name(prompts)
            self.log.add(f"new run in {path}")
        self.run = None
        self.scene.clear()
        self.plots.clear()
        self._run_path = path
        self._start(self.job_factory(path, config, prompts), "generating")

    def export(self, formats: list[str]) -> None:
        if self.running:
            self._error("Export", "wait until the current run has finished, or stop it")
            return
        if self.run is None:
            self._error("Export", "open or generate a run first (File → Open run folder)")
            return
        self._run_path = None
        self._start(export_job(self.run.path, formats), "exporting")

    def _start(self, job: Job, state: str) -> None:
        worker = PipelineWorker(job, self)
        worker.progress.connect(self._on_progress)
        worker.mesh_ready.connect(self._on_mesh)
        worker.image.connect(self.plots.show_image)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self.prompt_panel.set_running(True)
        self.status.set_state(state)
        worker.start()

    def pause(self) -> None:
        if self.worker is not None:
            self.worker.pause()
            self.prompt_panel.set_running(True, paused=True)
            self.status.set_state("paused")
            self.log.add("paused")

    def resume(self) -> None:
        if self.worker is not None:
            self.worker.resume()
            self.prompt_panel.set_running(True, paused=False)
            self.log.add("resumed")

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.status.set_state("stopping…")

    def _on_progress(self, event: Progress) -> None:
        self.status.update_progress(event)
        self.plots.add(event)
        self.log.add_progress(event)
        if event.stage == "guidance" and event.message:
            self.prompt_panel.guidance.setText(event.message)

    def _on_mesh(self) -> None:
        snapshot: MeshSnapshot | None = self.worker.take_mesh() if self.worker is not None else None
        if snapshot is not None:
            first = self.scene.mesh is None
            self.scene.set_mesh(snapshot.vertices, snapshot.faces, snapshot.colors)
            self.playback.set_content(None, None)
            if first:  # later snapshots keep the camera the user chose
                self.viewport.frame_scene()

    def _on_succeeded(self, result: Any) -> None:
        self.status.set_state("done")
        self.log.add("finished")
        if isinstance(result, Path) and result.is_dir():
            self._finished_run = result
        elif isinstance(result, list):
            self.log.add("wrote " + ", ".join(str(p) for p in result))
            self.status.showMessage(f"exported {len(result)} file(s)", 10000)

    def _on_failed(self, message: str) -> None:
        self.status.set_state("failed")
        if self.worker is not None:
            self.log.add(self.worker.error_details.rstrip())
        self._error("The run failed", message)

    def _on_cancelled(self) -> None:
        self.status.set_state("stopped")
        self.log.add("stopped by the user; press Generate to resume")

    def _on_finished(self) -> None:
        worker, self.worker = self.worker, None
        self.prompt_panel.set_running(False)
        if worker is not None:
            worker.deleteLater()
        path, self._run_path = self._run_path, None
        finished, self._finished_run = self._finished_run, None
        if finished is not None:
            self.open_run(finished, keep_plots=True)  # the curves just drawn live stay
        elif self.run is None and path is not None and (path / "manifest.json").exists():
            try:
                self.run = RunDir.open(path)
            except RunError as exc:
                self.log.add(str(exc))

    def _on_no_gl(self, why: str) -> None:
        self.log.add(why)
        self.status.showMessage(why, 15000)

    def _error(self, title: str, message: str) -> None:
        """A non-blocking dialog, the status bar and the log; the window keeps working."""
        self.status.showMessage(message, 15000)
        self.log.add(f"{title}: {message}")
        self._dialog = QMessageBox(
            QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self
        )
        self._dialog.open()

    # run folders
    def choose_run(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open run folder", str(self.runs_root))
        if path:
            self.open_run(path)

    def open_run(self, path: str | Path, keep_plots: bool = False) -> bool:
        """Show the avatar, motion or mesh of a run folder; False (with a message) if it cannot be used.

        The loss plots show the run's logged sculpting curves (``losses.jsonl``), unless ``keep_plots``."""
        if self.running:
            self._error("Open run", "wait until the current run has finished, or stop it")
            return False
        try:
            run = RunDir.open(path)
        except RunError as exc:
            self._error("Cannot open the run", str(exc))
            return False
        content = load_run_content(run)
        for problem in content.problems:
            self.log.add(problem)
        self.run = run
        self.prompt_panel.set_prompts(run.manifest.prompts)
        if run.manifest.guidance:
            self.prompt_panel.guidance.setText(f"guidance model: {run.manifest.guidance}")
        if content.avatar is not None:
            self.scene.set_avatar(content.avatar)
        elif content.mesh is not None:
            self.scene.set_mesh(content.mesh.vertices, content.mesh.faces, content.mesh.colors)
        else:
            self.scene.clear()
        self.playback.set_content(content.avatar, content.clip)
        if not keep_plots:
            self.plots.clear()
            for event in read_loss_log(run.file(LOSS_LOG)):
                self.plots.add(event)
            self.plots.refresh()
        self.timeline.sync()
        self.viewport.frame_scene()
        self._remember(run.path)
        unfinished = unfinished_stages(run)
        if unfinished:
            self.status.set_state(f"interrupted at {unfinished[0]}")
            self.log.add(f"{run.path}: unfinished stage(s) {', '.join(unfinished)}; press Generate to resume")
        else:
            self.status.set_state(f"opened {run.path.name}")
            self.log.add(f"opened {run.path}")
        self.setWindowTitle(f"AvatarCLIP Studio — {run.path.name}")
        return True

    def recent_runs(self) -> list[str]:
        value = self.settings.value("recent_runs", [])
        if isinstance(value, str):  # QSettings' INI format gives a one-item list back as a string
            return [value]
        return [str(p) for p in value] if isinstance(value, list) else []

    def _remember(self, path: Path) -> None:
        runs = [str(path.resolve())] + [p for p in self.recent_runs() if p != str(path.resolve())]
        self.settings.setValue("recent_runs", runs[:MAX_RECENT])

    def fill_recent_menu(self) -> None:
        assert self.recent_menu is not None
        self.recent_menu.clear()
        runs = self.recent_runs()
        for path in runs:
            self.recent_menu.addAction(path, functools.partial(self.open_run, path))
        if not runs:
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    # view
    def set_render_mode(self, mode: RenderMode) -> None:
        self.scene.mode = mode
        self.scene.changed()

    def set_view_flag(self, name: str, on: bool) -> None:
        setattr(self.scene, name, on)
        self.scene.changed()

    def _on_frame(self, frame: int) -> None:
        if self.playback.can_pose:
            self.scene.set_pose(self.playback.joint_transforms(frame), self.playback.posed_joints(frame))

    def choose_screenshot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "screenshot.png", "PNG images (*.png)")
        if path:
            self.save_screenshot(path)

    def save_screenshot(self, path: str | Path) -> None:
        """The 3D view as a PNG (written atomically)."""
        from avatarclip_studio.utils.atomic import OutputError, atomic_path

        image = self.viewport.grab_image()
        try:
            with atomic_path(path) as tmp:
                # PySide6's stub types the format as bytes; the binding takes str
                if not image.save(str(tmp), "PNG"):  # type: ignore[call-overload]
                    raise OutputError(f"cannot write {path}: the image could not be encoded")
        except OutputError as exc:
            self._error("Screenshot", str(exc))
            return
        self.log.add(f"screenshot saved to {path}")

    def grab_window(self) -> QImage:
        """The window as shown, 3D view included (a plain grab leaves the embedded GL window out)."""
        image = self.grab().toImage()
        painter = QPainter(image)
        painter.drawImage(self.viewport.mapTo(self, QPoint(0, 0)), self.viewport.grab_image())
        painter.end()
        return image

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "AvatarCLIP Studio",
            "Text to animated 3D avatars, after AvatarCLIP (Hong et al., SIGGRAPH 2022).\n"
            "Body shape, appearance and motion from three texts.",
        )

    def closeEvent(self, event: Any) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker.wait(10000)
        super().closeEvent(event)
