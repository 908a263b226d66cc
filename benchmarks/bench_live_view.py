"""What the live view costs the optimiser, and how fast the viewport orbits while it optimises.

    xvfb-run -a -s "-screen 0 1920x1200x24" env QT_QPA_PLATFORM=xcb QT_XCB_GL_INTEGRATION=xcb_egl \\
        .venv/bin/python benchmarks/bench_live_view.py [--steps 120] [--view 1280x720]

Three runs of the same `preview` generation (offline guidance unless CLIP weights are found), the sculpt
stage cut to ``--steps`` steps, each in the pipeline's child process as the studio runs it:

- ``headless``: no window at all: the optimiser's own rate;
- ``live``: the studio window, its 3-D view at ``--view``, the avatar redrawn from the snapshot stream;
- ``orbiting``: the same while the camera orbits without pause (a redraw asked 125 times a second, as a
  mouse drag does; the view paints as many as it can).

Prints a Markdown table: sculpt steps/s (from each run's manifest), the cost against ``headless``, and the
view's frames/s while the sculpt stage ran. Writes its runs under ``--out`` (a temporary folder by default).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from avatarclip_studio.config import StudioConfig, preset
from avatarclip_studio.pipeline.events import Progress, Reporter
from avatarclip_studio.ui.jobs import pipeline_job
from avatarclip_studio.ui.main_window import MainWindow

PROMPTS = {"shape": "a tall and skinny person", "appearance": "a firefighter", "motion": "raising both arms"}


def sculpt_rate(run: Path, steps: int) -> float:
    """Sculpt steps per second from the run's manifest (the stage's wall time, checkpoints included)."""
    manifest = json.loads((run / "manifest.json").read_text())
    return steps / float(manifest["stages"]["sculpt"]["seconds"])


def headless(config: StudioConfig, run: Path) -> None:
    pipeline_job(run, config, PROMPTS)(Reporter())


def in_studio(
    app: QApplication, config: StudioConfig, root: Path, view: tuple[int, int], orbit: bool
) -> float:
    """Generate from the studio window; returns the view's frames/s during the sculpt stage (and saves
    what the view showed when the stage ended in ``root/view-after-sculpt.png``)."""
    settings = QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        root, settings, job_factory=lambda path, _preset, prompts: pipeline_job(path, config, prompts)
    )
    window.resize(1900, 1100)
    window.show()
    deadline = time.monotonic() + 30
    while window.viewport.draw_ms() is None and time.monotonic() < deadline:
        app.processEvents()
    if window.viewport.gl_error:
        sys.exit(f"no OpenGL view: {window.viewport.gl_error}")
    # size the window so that the 3-D view itself is view[0] × view[1]
    for _ in range(3):
        dw, dh = view[0] - window.viewport.width(), view[1] - window.viewport.height()
        window.resize(window.width() + dw, window.height() + dh)
        for _ in range(20):
            app.processEvents()
    print(f"view size {window.viewport.width()} × {window.viewport.height()}", flush=True)

    frames = {"n": 0, "sculpting": False, "start": 0.0, "end": 0.0}

    def on_frame() -> None:
        if frames["sculpting"]:
            frames["n"] += 1

    def on_progress(event: Progress) -> None:
        sculpting = event.stage == "sculpt" and event.step < event.total
        if sculpting and not frames["sculpting"]:
            frames["start"] = time.monotonic()
        if frames["sculpting"] and not sculpting:
            frames["end"] = time.monotonic()
            window.viewport.grab_image().save(str(root / "view-after-sculpt.png"))  # what was on screen
        frames["sculpting"] = sculpting

    window.viewport.window_.frameSwapped.connect(on_frame)
    spinner = QTimer()
    spinner.setInterval(8)  # a mouse drag: move events at 125 Hz, each asking for a redraw

    def spin() -> None:
        window.viewport.controller.orbit(3.0, 0.0)
        window.viewport.redraw()

    spinner.timeout.connect(spin)
    if orbit:
        spinner.start()
    window.prompt_panel.set_prompts(PROMPTS)
    window.generate()
    assert window.worker is not None
    window.worker.progress.connect(on_progress)
    while window.running:
        app.processEvents()
        time.sleep(0.001)
    spinner.stop()
    end = frames["end"] or time.monotonic()
    window.close()
    print(f"{frames['n']} frames in {end - frames['start']:.1f} s of sculpting", flush=True)
    return frames["n"] / max(end - frames["start"], 1e-9)


MODES = {
    "headless": "headless (no window)",
    "live": "live view",
    "orbit": "live view + continuous orbit",
}


def run_mode(mode: str, config: StudioConfig, root: Path, view: tuple[int, int], steps: int) -> dict:
    """One run; returns ``{"rate": sculpt steps/s, "fps": view frames/s or None}``."""
    if mode == "headless":
        headless(config, root / "run")
        return {"rate": sculpt_rate(root / "run", steps), "fps": None}
    app = QApplication.instance() or QApplication(sys.argv)
    root.mkdir(parents=True, exist_ok=True)
    fps = in_studio(app, config, root, view, orbit=mode == "orbit")  # type: ignore[arg-type]
    run = next(p for p in root.iterdir() if (p / "manifest.json").exists())
    return {"rate": sculpt_rate(run, steps), "fps": fps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120, help="sculpt steps per run")
    parser.add_argument(
        "--preset", default="preview", help="starting configuration (tiny: a quick smoke run)"
    )
    parser.add_argument("--view", default="1280x720", help="size of the 3-D view, W x H pixels")
    parser.add_argument("--out", type=Path, help="folder for the runs (default: a temporary one)")
    parser.add_argument("--mode", choices=sorted(MODES), help=argparse.SUPPRESS)  # one run, in a child
    args = parser.parse_args()
    view = tuple(int(v) for v in args.view.lower().split("x"))
    base = preset(args.preset)
    config = replace(base, sculpt=replace(base.sculpt, steps=args.steps))
    out = args.out or Path(tempfile.mkdtemp(prefix="live-view-"))
    if args.mode:
        result = run_mode(args.mode, config, out / args.mode, view, args.steps)  # type: ignore[arg-type]
        print("RESULT " + json.dumps(result), flush=True)
        return

    # each run in its own process: Qt does not re-create an EGL window reliably within one process
    rows: list[tuple[str, float, float | None]] = []
    for mode, name in MODES.items():
        started = time.monotonic()
        command = [sys.executable, __file__, "--mode", mode, "--out", str(out), "--steps", str(args.steps)]
        command += ["--preset", args.preset, "--view", args.view]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode or not lines:
            sys.exit(f"the {mode} run failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
        result = json.loads(lines[-1][len("RESULT ") :])
        rows.append((name, result["rate"], result["fps"]))
        print(f"{name}: done in {time.monotonic() - started:.0f} s", flush=True)

    reference = rows[0][1]
    head = f"run ({args.steps} sculpt steps, {args.preset})"
    print(f"\n| {head} | sculpt steps/s | cost vs headless | view frames/s |")
    print("|---|---|---|---|")
    for name, rate, frames_per_s in rows:
        cost = "—" if name == rows[0][0] else f"{100 * (1 - rate / reference):.0f} %"
        print(f"| {name} | {rate:.2f} | {cost} | {'—' if frames_per_s is None else f'{frames_per_s:.2f}'} |")


if __name__ == "__main__":
    main()
