"""The end-to-end pipeline: text → shape → NeuS → sculpt → mesh + skin → motion → export.

Each stage writes its outputs into the run folder and marks itself done in the manifest, so running
the same command again resumes at the first unfinished stage (and inside a stage, at its last
checkpoint). Used by the CLI and, on a worker thread, by the app.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avatarclip_studio.config import StudioConfig
from avatarclip_studio.device import Compute, select_compute
from avatarclip_studio.guidance.base import check_prompt
from avatarclip_studio.pipeline.events import Cancelled, Reporter
from avatarclip_studio.pipeline.loss_log import LOSS_LOG, LossLog
from avatarclip_studio.pipeline.run_dir import RunDir, RunError
from avatarclip_studio.utils.atomic import atomic_path

log = logging.getLogger(__name__)

AVATAR_STAGES = ("shape", "neus_init", "sculpt", "mesh")
ALL_STAGES = (*AVATAR_STAGES, "motion", "export")


@dataclass
class Session:
    """What every stage shares: the run folder, the config, the compute choice and lazily-loaded models."""

    run: RunDir
    config: StudioConfig
    compute: Compute
    reporter: Reporter
    _body: object | None = None
    _guidance: object | None = None

    @property
    def body(self):
        if self._body is None:
            from avatarclip_studio.body.model import load_body_model

            self._body = load_body_model(self.config.body, self.compute.device)
        return self._body

    @property
    def guidance(self):
        if self._guidance is None:
            from avatarclip_studio.guidance.select import load_guidance

            self._guidance = load_guidance(
                self.config.guidance, self.compute.device, self.compute.autocast_dtype
            )
            self.run.manifest.guidance = self._guidance.name
            self.reporter.log("guidance", f"guidance model: {self._guidance.name}")
            self.run.save()
        return self._guidance


def _stage_shape(s: Session) -> None:
    from avatarclip_studio.shape.generate import coarse_shape

    result = coarse_shape(
        s.run.manifest.prompts["shape"], s.guidance, s.body, s.config.shape, s.reporter, seed=s.config.seed
    )
    vertices, joints = s.body.rest(
        torch.as_tensor(result.betas, dtype=torch.float32, device=s.compute.device)[None]
    )
    _save_arrays(
        s.run.file("shape.npz"),
        betas=np.asarray(result.betas, dtype=np.float32),
        vertices=vertices[0].detach().cpu().numpy(),
        joints=joints[0].detach().cpu().numpy(),
        faces=s.body.faces.cpu().numpy(),
        score=np.asarray(result.score, dtype=np.float32),
    )
    s.run.add_output("shape", "shape.npz")


def _save_arrays(path: Path, **arrays: Any) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def _load_shape(s: Session) -> dict[str, np.ndarray]:
    """The shape stage's output; when it is gone or damaged the stage is marked to be redone."""
    from avatarclip_studio.utils.npz import NPZ_ERRORS

    path = s.run.file("shape.npz")
    try:
        with np.load(path, allow_pickle=False) as data:
            shape = {k: data[k] for k in data.files}
        missing = [k for k in ("vertices", "faces", "joints", "betas") if k not in shape]
        if missing:
            raise KeyError(f"lacks {', '.join(missing)}")
    except NPZ_ERRORS as exc:
        s.run.manifest.stages.setdefault("shape", {})["status"] = "stale"
        s.run.save()
        raise RunError(
            f"{path}: the shape stage's output is missing or damaged ({exc}); it is marked to be "
            "redone: run the same command again to resume from the shape stage"
        ) from exc
    return shape


def _stage_neus_init(s: Session) -> None:
    from avatarclip_studio.neus.init_fit import fit_template

    shape = _load_shape(s)
    field = fit_template(
        shape["vertices"], shape["faces"], s.config.neus, s.compute, s.reporter, seed=s.config.seed
    )
    field.save(s.run.checkpoints / "neus_init.pt")


def _stage_sculpt(s: Session) -> None:
    from avatarclip_studio.body.skeleton import JOINT_INDEX
    from avatarclip_studio.neus.fields import NeusAvatarField
    from avatarclip_studio.neus.sculpt import Sculptor

    shape = _load_shape(s)
    field = NeusAvatarField.load(s.run.checkpoints / "neus_init.pt", s.compute.device)
    sculptor = Sculptor(
        field,
        s.guidance,
        template=(shape["vertices"], shape["faces"]),
        head_position=shape["joints"][JOINT_INDEX["head"]],
        prompts=s.run.manifest.prompts,
        config=s.config.sculpt,
        compute=s.compute,
        reporter=s.reporter,
        checkpoint_dir=s.run.checkpoints / "sculpt",
    )
    field = sculptor.run()
    field.save(s.run.checkpoints / "sculpted.pt")


def _stage_mesh(s: Session) -> None:
    from avatarclip_studio.avatar.extract import extract_mesh
    from avatarclip_studio.avatar.skinning import make_skinned_avatar
    from avatarclip_studio.export.mesh import write_mesh
    from avatarclip_studio.neus.fields import NeusAvatarField

    shape = _load_shape(s)
    field = NeusAvatarField.load(s.run.checkpoints / "sculpted.pt", s.compute.device)
    mesh = extract_mesh(field.sdf, field.texture, s.config.mesh, reporter=s.reporter, device=s.compute.device)
    avatar = make_skinned_avatar(mesh.vertices, mesh.faces, mesh.colors, s.body, shape["betas"])
    avatar.save(str(s.run.file("avatar.npz")))
    write_mesh(s.run.file("mesh.ply"), mesh.vertices, mesh.faces, mesh.colors)
    s.run.add_output("avatar", "avatar.npz")
    s.run.add_output("mesh", "mesh.ply")


def _stage_motion(s: Session) -> None:
    from avatarclip_studio.motion.animate import generate_motion
    from avatarclip_studio.motion.io import save_motion

    clip, candidates = generate_motion(
        s.run.manifest.prompts["motion"],
        s.guidance,
        s.body,
        s.config.motion,
        s.compute,
        s.reporter,
        checkpoint=s.run.checkpoints / "motion_state.pt",
    )
    save_motion(clip, s.run.file("motion.npz"))
    s.run.manifest.stages.setdefault("motion", {})["candidates"] = [
        {"score": round(float(c.score), 4), "index": int(c.index)} for c in candidates
    ]
    s.run.add_output("motion", "motion.npz")


STAGE_FUNCTIONS = {
    "shape": _stage_shape,
    "neus_init": _stage_neus_init,
    "sculpt": _stage_sculpt,
    "mesh": _stage_mesh,
    "motion": _stage_motion,
}


def _run_stage(s: Session, name: str) -> None:
    if s.run.stage_done(name):
        s.reporter.log(name, "already done (resumed run)")
        return
    started = s.run.stage_started(name)
    s.reporter.log(name, "started")
    try:
        STAGE_FUNCTIONS[name](s)
    except (Cancelled, KeyboardInterrupt):
        s.run.stage_finished(name, started, status="cancelled")
        raise
    except Exception as exc:
        s.run.stage_finished(name, started, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    s.run.stage_finished(name, started)


def _export(s: Session, formats: list[str]) -> None:
    if not formats:
        return
    from avatarclip_studio.export.exporter import export_run

    started = s.run.stage_started("export")
    written = export_run(s.run.path, formats)
    for path in written:
        s.run.add_output(Path(path).suffix.lstrip(".") or Path(path).name, Path(path).name)
    s.run.stage_finished("export", started, files=[Path(p).name for p in written])


def run_pipeline(
    out_dir: str | Path,
    config: StudioConfig,
    prompts: dict[str, str],
    reporter: Reporter,
    export_formats: list[str] | None = None,
    stages: tuple[str, ...] | None = None,
) -> RunDir:
    """Run (or resume) every stage for ``prompts`` into ``out_dir``; returns the run folder."""
    prompts = {k: check_prompt(v, f"{k} prompt") for k, v in prompts.items() if v is not None}
    for needed in ("shape", "appearance"):
        if needed not in prompts:
            raise ValueError(f"the {needed} prompt is missing")
    run = RunDir.create(out_dir, config, prompts)
    if run.manifest.prompts != prompts:
        raise ValueError(
            f"{run.path} holds a run for other prompts ({run.manifest.prompts}); choose another folder"
        )
    compute = select_compute(config.device, config.precision)
    torch.manual_seed(config.seed)
    run.manifest.device = compute.describe()
    run.save()
    reporter.add_listener(LossLog(run.file(LOSS_LOG)))
    session = Session(run=run, config=config, compute=compute, reporter=reporter)
    wanted = stages or (AVATAR_STAGES + (("motion",) if "motion" in prompts else ()))
    for name in wanted:
        _run_stage(session, name)
    _export(session, export_formats or [])
    return run


def animate_run(
    run_dir: str | Path,
    config: StudioConfig,
    reporter: Reporter,
    text: str | None = None,
    motion_file: str | Path | None = None,
    export_formats: list[str] | None = None,
) -> RunDir:
    """Give the avatar of ``run_dir`` a motion from text (generated) or from a motion file (retargeted)."""
    run = RunDir.open(run_dir)
    if not run.file("avatar.npz").exists():
        raise ValueError(f"{run.path} has no avatar.npz yet: run `avatarclip-studio generate` for it first")
    compute = select_compute(config.device, config.precision)
    reporter.add_listener(LossLog(run.file(LOSS_LOG)))
    session = Session(run=run, config=config, compute=compute, reporter=reporter)
    started = run.stage_started("motion")
    if text is not None:
        run.manifest.prompts["motion"] = check_prompt(text, "motion prompt")
        _stage_motion(session)
    elif motion_file is not None:
        from avatarclip_studio.motion.io import load_motion, save_motion

        clip = load_motion(motion_file)
        save_motion(clip, run.file("motion.npz"))
        run.manifest.prompts.pop("motion", None)
        run.add_output("motion", "motion.npz")
    else:
        raise ValueError("animate needs a motion text or a motion file")
    run.stage_finished("motion", started, source=str(motion_file) if motion_file else "text")
    _export(session, export_formats or [])
    return run
