"""What each ``avatarclip-studio`` subcommand does; ``main.py`` only parses arguments."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from avatarclip_studio.cli.progress import ProgressBars
from avatarclip_studio.pipeline.events import Cancelled, Reporter


class UserFacingError(Exception):
    """An error whose message is for the person at the terminal (no traceback)."""


def _is_ours(exc: BaseException) -> bool:
    """Errors raised deliberately by our package carry a message meant for the user."""
    return type(exc).__module__.startswith("avatarclip_studio")


def _reporter(args: argparse.Namespace) -> tuple[Reporter, ProgressBars]:
    bars = ProgressBars(enabled=not getattr(args, "no_progress", False))
    reporter = Reporter(bars)
    _stop_on_interrupt(reporter)
    return reporter, bars


def _stop_on_interrupt(reporter: Reporter) -> None:
    """First Ctrl+C: stop after the current step, checkpointed (exit 130); a second one stops at once."""
    if threading.current_thread() is not threading.main_thread():
        return

    def on_interrupt(signum: int, frame: Any) -> None:
        if reporter.cancelled:
            raise KeyboardInterrupt
        print("\nstopping after this step (Ctrl+C again to stop at once)", file=sys.stderr, flush=True)
        reporter.cancel()

    signal.signal(signal.SIGINT, on_interrupt)


def dispatch(
    args: argparse.Namespace, config_from: Callable[[argparse.Namespace], Any], formats: Callable
) -> int:
    handlers = {
        "app": _app,
        "generate": _generate,
        "animate": _animate,
        "export": _export,
        "train": _train,
        "doctor": _doctor,
        "demo": _demo,
    }
    try:
        return handlers[args.command](args, config_from, formats)
    except Cancelled:
        print("cancelled: the run folder keeps its last checkpoint", file=sys.stderr)
        return 130
    except Exception as exc:
        if _is_ours(exc):
            raise UserFacingError(str(exc)) from exc
        raise


def _app(args, config_from, formats) -> int:
    headless = not any(os.environ.get(k) for k in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))
    if sys.platform.startswith("linux") and headless:
        # without this check Qt aborts the process with a core dump and a page of plugin hints
        raise UserFacingError(
            "no display (DISPLAY is not set): the app needs a desktop session; "
            "for a headless run use `avatarclip-studio demo` or `avatarclip-studio generate`"
        )
    from avatarclip_studio.ui.app import run_app

    return run_app(sys.argv[:1], run_dir=args.run_dir)


def _doctor(args, config_from, formats) -> int:
    from avatarclip_studio.cli.doctor import run_doctor

    return run_doctor()


def _generate(args, config_from, formats) -> int:
    from avatarclip_studio.pipeline.runner import run_pipeline

    config = config_from(args)
    prompts = {"shape": args.shape, "appearance": args.appearance}
    if args.motion:
        prompts["motion"] = args.motion
    reporter, bars = _reporter(args)
    try:
        run = run_pipeline(args.out, config, prompts, reporter, export_formats=formats(args.export))
    finally:
        bars.close()
    _print_outputs(run.path, run.manifest.outputs)
    return 0


def _animate(args, config_from, formats) -> int:
    from avatarclip_studio.pipeline.runner import animate_run

    config = config_from(args)
    reporter, bars = _reporter(args)
    try:
        run = animate_run(
            args.avatar,
            config,
            reporter,
            text=args.motion,
            motion_file=args.motion_file,
            export_formats=formats(args.export),
        )
    finally:
        bars.close()
    _print_outputs(run.path, run.manifest.outputs)
    return 0


def _export(args, config_from, formats) -> int:
    wanted = formats(args.format)
    from avatarclip_studio.export.exporter import export_run

    written = export_run(args.run_dir, wanted, out_dir=args.out)
    for path in written:
        print(path)
    return 0


def _train(args, config_from, formats) -> int:
    from avatarclip_studio.pipeline.training import train

    reporter, bars = _reporter(args)
    try:
        outputs = train(
            args.what,
            reporter,
            steps=args.steps,
            seed=args.seed,
            out=args.out,
            amass=args.amass,
            guidance_backend=args.guidance,
        )
    finally:
        bars.close()
    for path in outputs:
        print(path)
    return 0


def _demo(args, config_from, formats) -> int:
    """The headless demo: the whole chain on a small preset, outputs listed at the end."""
    from avatarclip_studio.config import preset
    from avatarclip_studio.pipeline.runner import run_pipeline

    config = preset(args.preset)
    prompts = {"shape": args.shape, "appearance": args.appearance, "motion": args.motion}
    reporter, bars = _reporter(args)
    try:
        run = run_pipeline(args.out, config, prompts, reporter, export_formats=["glb", "bvh", "ply", "gif"])
    finally:
        bars.close()
    _print_outputs(run.path, run.manifest.outputs)
    return 0


def _print_outputs(folder: Path, outputs: dict[str, str]) -> None:
    print(f"run folder: {folder}")
    for name, file in outputs.items():
        print(f"  {name:12s} {folder / file}")
