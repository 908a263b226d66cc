"""A run folder: its outputs, its checkpoints and a ``manifest.json`` that a person can read.

Layout::

    RUN/manifest.json      prompts, config, seeds, versions, device, guidance model, timings
    RUN/config.toml        the full config (reload with --config)
    RUN/checkpoints/       resumable state of each stage
    RUN/...                outputs (avatar.glb, mesh.ply, motion.npz, motion.bvh, renders)

Every file is written atomically, so a killed run never leaves a half-written file.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from avatarclip_studio import __version__
from avatarclip_studio.config import StudioConfig, dump_config, load_config, to_dict
from avatarclip_studio.utils.atomic import atomic_write_json

MANIFEST = "manifest.json"


class RunError(RuntimeError):
    """A run folder that cannot be used; the message says which file and why."""


@dataclass
class Manifest:
    prompts: dict[str, str] = field(default_factory=dict)
    """shape, appearance, motion."""
    seed: int = 0
    device: str = ""
    guidance: str = ""
    """Which guidance model steered the run (real CLIP name, or the offline model)."""
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per stage: status (done/running/cancelled/failed), seconds, steps, outputs."""
    outputs: dict[str, str] = field(default_factory=dict)
    """Name → file name inside the run folder."""
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    versions: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class RunDir:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.manifest = Manifest()

    @classmethod
    def create(cls, path: str | Path, config: StudioConfig, prompts: dict[str, str]) -> RunDir:
        run = cls(path)
        if (run.path / MANIFEST).exists():
            # a killed process (SIGKILL, power loss) cannot remove its temporaries: a resume does
            for stale in run.path.rglob(".*.part*"):
                stale.unlink(missing_ok=True)
            return cls.open(path)
        run.path.mkdir(parents=True, exist_ok=True)
        run.manifest.prompts = dict(prompts)
        run.manifest.seed = config.seed
        run.manifest.versions = software_versions()
        dump_config(config, run.path / "config.toml")
        run.save()
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        run = cls(path)
        file = run.path / MANIFEST
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise RunError(f"{run.path} is not a run folder (no {MANIFEST})") from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunError(f"{file}: unreadable manifest ({exc})") from exc
        if not isinstance(data, dict):
            raise RunError(f"{file}: the manifest must be a JSON object")
        known = set(Manifest.__dataclass_fields__)
        try:
            run.manifest = Manifest(**{k: v for k, v in data.items() if k in known and k != "config"})
        except TypeError as exc:
            raise RunError(f"{file}: malformed manifest ({exc})") from exc
        _check_types(run.manifest, file)
        return run

    def config(self) -> StudioConfig:
        return load_config(self.path / "config.toml")

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def checkpoints(self) -> Path:
        folder = self.path / "checkpoints"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def save(self) -> None:
        data = dataclasses.asdict(self.manifest)
        config_file = self.path / "config.toml"
        if config_file.exists():
            data["config"] = to_dict(load_config(config_file))
        atomic_write_json(self.path / MANIFEST, data)

    def stage_started(self, stage: str) -> float:
        self.manifest.stages[stage] = {"status": "running"}
        self.save()
        return time.perf_counter()

    def stage_finished(self, stage: str, started: float, status: str = "done", **info: Any) -> None:
        entry = {"status": status, "seconds": round(time.perf_counter() - started, 3), **info}
        self.manifest.stages[stage] = entry
        self.save()

    def add_output(self, name: str, file: str | Path) -> None:
        self.manifest.outputs[name] = str(
            Path(file).relative_to(self.path) if Path(file).is_absolute() else file
        )
        self.save()

    def stage_done(self, stage: str) -> bool:
        return self.manifest.stages.get(stage, {}).get("status") == "done"


def _check_types(manifest: Manifest, file: Path) -> None:
    """A hand-edited or damaged manifest fails here, naming the field, not later deep in a stage."""
    for name, default in vars(Manifest()).items():
        value = getattr(manifest, name)
        if not isinstance(value, type(default)) or isinstance(value, bool) is not isinstance(default, bool):
            raise RunError(f"{file}: {name} must be a {type(default).__name__}, not {type(value).__name__}")
    text_tables = (manifest.prompts, manifest.outputs, manifest.versions)
    if not all(isinstance(v, str) for table in text_tables for v in table.values()):
        raise RunError(f"{file}: prompts, outputs and versions must map names to text")
    if not all(isinstance(v, dict) for v in manifest.stages.values()):
        raise RunError(f"{file}: each stage entry must be a JSON object")


def software_versions() -> dict[str, str]:
    import numpy
    import torch

    return {
        "avatarclip_studio": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }
