"""Menus and keyboard shortcuts of the main window: File, View, Help."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QShortcut

from avatarclip_studio.export.exporter import FORMATS
from avatarclip_studio.ui.scene import RENDER_MODES

if TYPE_CHECKING:
    from avatarclip_studio.ui.main_window import MainWindow


@dataclass
class WindowActions:
    open_run: QAction
    screenshot: QAction
    export: dict[str, QAction]
    """One per export format, plus ``all``."""
    render_modes: dict[str, QAction]
    wireframe: QAction
    skeleton: QAction
    grid: QAction
    help: QAction
    shortcuts: dict[str, QShortcut]


def build_actions(window: MainWindow) -> WindowActions:
    """Create the menus of ``window`` and bind its shortcuts to its methods."""
    bar = window.menuBar()
    file = bar.addMenu("&File")
    open_run = file.addAction("&Open run folder…", QKeySequence.StandardKey.Open, window.choose_run)
    window.recent_menu = file.addMenu("Open &recent")
    window.recent_menu.aboutToShow.connect(window.fill_recent_menu)
    file.addSeparator()
    screenshot = file.addAction("Save &screenshot…", QKeySequence.StandardKey.Save, window.choose_screenshot)
    export_menu = file.addMenu("&Export")
    export = {
        fmt: export_menu.addAction(fmt.upper(), functools.partial(window.export, [fmt])) for fmt in FORMATS
    }
    export_menu.addSeparator()
    export["all"] = export_menu.addAction("All formats", lambda: window.export(list(FORMATS)))
    file.addSeparator()
    file.addAction("&Quit", QKeySequence.StandardKey.Quit, window.close)

    view = bar.addMenu("&View")
    group = QActionGroup(window)
    render_modes: dict[str, QAction] = {}
    for mode in RENDER_MODES:
        action = view.addAction(mode.capitalize(), functools.partial(window.set_render_mode, mode))
        action.setCheckable(True)
        action.setChecked(mode == window.scene.mode)
        group.addAction(action)
        render_modes[mode] = action
    view.addSeparator()
    wireframe = _toggle(
        view, "&Wireframe", window.scene.wireframe, lambda on: window.set_view_flag("wireframe", on)
    )
    skeleton = _toggle(
        view, "&Skeleton", window.scene.show_skeleton, lambda on: window.set_view_flag("show_skeleton", on)
    )
    grid = _toggle(view, "&Grid", window.scene.show_grid, lambda on: window.set_view_flag("show_grid", on))
    view.addSeparator()
    view.addAction("&Frame the avatar\tF", window.viewport.frame_scene)
    view.addAction("&Reset view\tR", window.viewport.reset_view)
    view.addSeparator()
    for dock in window.docks:
        view.addAction(dock.toggleViewAction())

    help_menu = bar.addMenu("&Help")
    help_action = help_menu.addAction("&Keyboard shortcuts\tH", window.help_overlay.toggle)
    help_menu.addAction("&About", window.show_about)

    keys = {
        "space": (Qt.Key.Key_Space, window.timeline.toggle_play),
        "left": (Qt.Key.Key_Left, lambda: window.playback.step(-1)),
        "right": (Qt.Key.Key_Right, lambda: window.playback.step(1)),
        "f": (Qt.Key.Key_F, window.viewport.frame_scene),
        "r": (Qt.Key.Key_R, window.viewport.reset_view),
        "h": (Qt.Key.Key_H, window.help_overlay.toggle),
        "?": (Qt.Key.Key_Question, window.help_overlay.toggle),
    }
    shortcuts = {}
    for name, (key, slot) in keys.items():
        shortcut = QShortcut(QKeySequence(key), window)
        shortcut.activated.connect(slot)
        shortcuts[name] = shortcut
    return WindowActions(
        open_run, screenshot, export, render_modes, wireframe, skeleton, grid, help_action, shortcuts
    )


def _toggle(menu, text: str, checked: bool, slot) -> QAction:
    action = menu.addAction(text)
    action.setCheckable(True)
    action.setChecked(checked)
    action.toggled.connect(slot)
    return action
