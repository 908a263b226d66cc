"""Save a screenshot of the studio window with a run folder opened (the README's picture).

    xvfb-run -a -s "-screen 0 1920x1200x24" env QT_QPA_PLATFORM=xcb QT_XCB_GL_INTEGRATION=xcb_egl \
        .venv/bin/python scripts/screenshot_run.py RUN_DIR docs/images/studio.png [--frame 30]

The window shows what a person sees after opening the run: the avatar at a frame of its animation, the
prompts, the timeline. Nothing is drawn by this script itself.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--frame", type=int, default=30, help="animation frame to show")
    parser.add_argument("--orbit", type=float, default=-25.0, help="degrees to orbit from the front")
    args = parser.parse_args()

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from avatarclip_studio.ui.app import prepare_platform
    from avatarclip_studio.ui.main_window import MainWindow

    prepare_platform()
    app = QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(runs_root=Path(tmp) / "runs", settings=settings)
        window.resize(1600, 960)
        window.show()
        result = {"code": 1}

        def shoot() -> None:
            if window.viewport.draw_ms() is None:  # the GL view has not drawn yet
                QTimer.singleShot(200, shoot)
                return
            if not window.open_run(args.run_dir):
                app.quit()
                return
            window.viewport.controller.orbit(args.orbit, 8.0)
            window.timeline.slider.setValue(args.frame)
            window.viewport.redraw()
            QTimer.singleShot(800, save)

        def save() -> None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            result["code"] = 0 if window.grab_window().save(str(args.out)) else 1
            print(f"saved {args.out}" if result["code"] == 0 else f"could not write {args.out}")
            app.quit()

        QTimer.singleShot(500, shoot)
        app.exec()
        window.close()
    return result["code"]


if __name__ == "__main__":
    sys.exit(main())
