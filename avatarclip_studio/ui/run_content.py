"""What a run folder holds that the app can show: the avatar, its motion, or at least a mesh. No Qt."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from avatarclip_studio.avatar.skinned import SkinnedAvatar
from avatarclip_studio.export.checks import ExportError
from avatarclip_studio.export.mesh import read_mesh
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.io import MotionFileError, load_motion
from avatarclip_studio.pipeline.run_dir import RunDir
from avatarclip_studio.ui.scene import StaticMesh
from avatarclip_studio.utils.npz import NPZ_ERRORS


@dataclass
class RunContent:
    avatar: SkinnedAvatar | None = None
    clip: MotionClip | None = None
    mesh: StaticMesh | None = None
    """Shown when there is no avatar yet: the sculpted mesh, or the body shape of the first stage."""
    problems: list[str] = field(default_factory=list)
    """Files that exist but could not be read, one line each."""

    @property
    def empty(self) -> bool:
        return self.avatar is None and self.mesh is None


def unfinished_stages(run: RunDir) -> list[str]:
    """Stages the manifest lists as not done (running when killed, cancelled or failed)."""
    return [name for name, info in run.manifest.stages.items() if info.get("status") != "done"]


def load_run_content(run: RunDir) -> RunContent:
    """Read ``avatar.npz``, ``motion.npz``, else ``mesh.ply`` or ``shape.npz``; unreadable files are reported
    in ``problems`` rather than raised, so a half-finished run still opens."""
    content = RunContent()
    if run.file("avatar.npz").exists():
        try:
            content.avatar = SkinnedAvatar.load(str(run.file("avatar.npz")))
        except ValueError as exc:
            content.problems.append(str(exc))
    if run.file("motion.npz").exists():
        try:
            content.clip = load_motion(run.file("motion.npz"))
        except MotionFileError as exc:
            content.problems.append(str(exc))
    if content.avatar is None:
        content.mesh = _fallback_mesh(run, content.problems)
    return content


def _fallback_mesh(run: RunDir, problems: list[str]) -> StaticMesh | None:
    ply = run.file("mesh.ply")
    if ply.exists():
        try:
            return _static(*read_mesh(ply))
        except ExportError as exc:
            problems.append(str(exc))
    shape = run.file("shape.npz")
    if shape.exists():
        try:
            with np.load(shape, allow_pickle=False) as data:
                return _static(data["vertices"], data["faces"], None)
        except NPZ_ERRORS as exc:
            problems.append(f"{shape}: unreadable body shape ({exc})")
    return None


def _static(vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None) -> StaticMesh:
    v = np.asarray(vertices, np.float32)
    if colors is None:
        colors = np.full_like(v, 0.72)
    return StaticMesh(v, np.asarray(faces, np.int32), np.asarray(colors, np.float32))
