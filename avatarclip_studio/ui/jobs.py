"""The app's long jobs: the pipeline and the exporter, each run in a child process. No Qt.

A job is ``job(reporter) -> result``, called by :class:`~avatarclip_studio.ui.worker.PipelineWorker`
on its thread; the targets below are module-level so that the child process can import them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from avatarclip_studio.config import StudioConfig
from avatarclip_studio.pipeline.events import Reporter
from avatarclip_studio.ui.child import run_in_child

Job = Callable[[Reporter], Any]
"""Called on the worker thread with the worker's reporter; returns the job's result."""


def generate_target(
    run_path: Path, config: StudioConfig, prompts: dict[str, str], reporter: Reporter
) -> Path:
    from avatarclip_studio.pipeline.runner import run_pipeline

    return run_pipeline(run_path, config, prompts, reporter).path


def export_target(run_path: Path, formats: list[str], reporter: Reporter) -> list[Path]:
    from avatarclip_studio.export.exporter import export_run

    reporter.log("export", f"writing {', '.join(formats)}")
    return export_run(run_path, formats)


def pipeline_job(run_path: Path, config: StudioConfig, prompts: dict[str, str]) -> Job:
    """Run (or resume) the whole pipeline for ``prompts`` into ``run_path``; the job returns the folder."""
    return lambda reporter: run_in_child(generate_target, (run_path, config, prompts), reporter)


def export_job(run_path: Path, formats: list[str]) -> Job:
    """Write ``formats`` for the run in ``run_path``; the job returns the paths written."""
    return lambda reporter: run_in_child(export_target, (run_path, formats), reporter)
