"""The one body model interface every stage uses: SMPL's linear shape space and linear blend skinning.

Any SMPL-format file works: the shipped open body (``resources/body/open_body_neutral.npz``, built by
:mod:`avatarclip_studio.body.build_open_body`), a real SMPL/SMPL-H ``.npz``/``.pkl``, or the body part of
an SMPL-X file. Skinning is smplx's own (its ``lbs`` building blocks), so results match ``smplx.SMPL``
on the same arrays; unlike ``smplx.SMPL.forward`` it also returns the joint transforms.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from smplx.lbs import batch_rigid_transform, batch_rodrigues, blend_shapes, vertices2joints

from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.io import BodyModelError, metadata_of, read_body_file
from avatarclip_studio.body.skeleton import NUM_JOINTS
from avatarclip_studio.paths import resource_path

ENV_BODY_MODEL = "AVATARCLIP_BODY_MODEL"

__all__ = ["BodyModel", "BodyModelError", "BodyOutput", "default_body_path", "load_body_model"]


@dataclass(frozen=True)
class BodyOutput:
    vertices: torch.Tensor
    """(N,V,3) posed vertices, metres, y up."""
    joints: torch.Tensor
    """(N,24,3) posed joint positions."""
    joint_transforms: torch.Tensor
    """(N,24,4,4) world transforms of the skinning (smplx's ``A``, translation included): a rest-pose
    point ``p`` bound to joint j alone moves to ``joint_transforms[:, j] @ [p, 1]``."""


class BodyModel(torch.nn.Module):
    """SMPL-format body: ``forward(betas, body_pose, global_orient, transl) -> BodyOutput``.

    Buffers: ``v_template (V,3)``, ``shapedirs (V,3,B)``, ``posedirs (207, V*3)``,
    ``J_regressor (24,V)``, ``lbs_weights (V,24)``, ``parents (24,)``, ``faces (F,3)`` (long),
    ``sample_betas (N,B)``.
    """

    v_template: torch.Tensor
    shapedirs: torch.Tensor
    posedirs: torch.Tensor
    J_regressor: torch.Tensor
    lbs_weights: torch.Tensor
    parents: torch.Tensor
    faces: torch.Tensor
    sample_betas: torch.Tensor
    """(N,B) betas of realistic bodies stored with the model; (0,B) when the file has none (SMPL)."""

    def __init__(
        self,
        arrays: dict[str, np.ndarray],
        name: str,
        num_betas: int | None = None,
        beta_semantics: tuple[str, ...] = (),
    ) -> None:
        """``arrays`` as returned by :func:`avatarclip_studio.body.io.read_body_file`."""
        super().__init__()
        available = arrays["shapedirs"].shape[-1]
        self.num_betas = available if num_betas is None else min(num_betas, available)
        self.name = name
        self.beta_semantics = beta_semantics
        """Meaning of the first betas, positive direction (e.g. ``("height", "weight", "muscle")``);
        empty when the file does not say (real SMPL)."""
        f32 = torch.float32
        self.register_buffer("v_template", torch.as_tensor(arrays["v_template"], dtype=f32))
        self.register_buffer(
            "shapedirs", torch.as_tensor(arrays["shapedirs"][..., : self.num_betas], dtype=f32)
        )
        posedirs = arrays["posedirs"].reshape(-1, arrays["posedirs"].shape[-1]).T
        self.register_buffer("posedirs", torch.as_tensor(np.ascontiguousarray(posedirs), dtype=f32))
        # the open body has none: skipping the (N,207)x(207,3V) product makes forward ~3x faster
        self.has_pose_blend = bool(np.any(posedirs))
        self.register_buffer("J_regressor", torch.as_tensor(arrays["J_regressor"], dtype=f32))
        self.register_buffer("lbs_weights", torch.as_tensor(arrays["weights"], dtype=f32))
        self.register_buffer("parents", torch.as_tensor(arrays["parents"], dtype=torch.long))
        self.register_buffer("faces", torch.as_tensor(arrays["f"], dtype=torch.long))
        samples = arrays.get("sample_betas", np.zeros((0, available), np.float32))[:, : self.num_betas]
        self.register_buffer("sample_betas", torch.as_tensor(samples, dtype=f32))

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    def _betas(self, betas: torch.Tensor | None, batch: int) -> torch.Tensor:
        if betas is None:
            return self.v_template.new_zeros(batch, self.num_betas)
        if betas.ndim != 2 or betas.shape[1] > self.num_betas:
            raise ValueError(
                f"betas must be (N, <= {self.num_betas}) for body {self.name!r}, got {tuple(betas.shape)}"
            )
        return betas.expand(batch, -1) if betas.shape[0] == 1 else betas

    def shaped(self, betas: torch.Tensor | None) -> torch.Tensor:
        """Zero-pose vertices (N,V,3) of ``betas`` (N,B'<=B); None: the template (1,V,3)."""
        b = self._betas(betas, 1)
        return self.v_template + blend_shapes(b, self.shapedirs[..., : b.shape[1]])

    def rest(self, betas: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero-pose (T-pose) vertices (N,V,3) and joints (N,24,3)."""
        v = self.shaped(betas)
        return v, vertices2joints(self.J_regressor, v)

    def forward(
        self,
        betas: torch.Tensor | None = None,
        body_pose: torch.Tensor | None = None,
        global_orient: torch.Tensor | None = None,
        transl: torch.Tensor | None = None,
    ) -> BodyOutput:
        """Pose the body. ``betas (N,B')``, ``body_pose (N,69)`` and ``global_orient (N,3)`` axis-angle,
        ``transl (N,3)``; any may be None (zeros) and a batch of 1 broadcasts against the others."""
        given = [t.shape[0] for t in (betas, body_pose, global_orient, transl) if t is not None]
        batch = max(given, default=1)
        if any(n not in (1, batch) for n in given):
            raise ValueError(f"body model inputs have mismatched batch sizes {given}")
        zeros = self.v_template.new_zeros
        pose = torch.cat(
            [
                (global_orient if global_orient is not None else zeros(1, 3)).expand(batch, 3),
                (body_pose if body_pose is not None else zeros(1, 3 * (NUM_JOINTS - 1))).expand(batch, -1),
            ],
            dim=1,
        )
        if pose.shape[1] != 3 * NUM_JOINTS:
            raise ValueError(
                f"body_pose must be (N, {3 * (NUM_JOINTS - 1)}) axis-angle, got {pose.shape[1] - 3}"
            )
        v_shaped = self.shaped(betas).expand(batch, -1, -1)
        joints = vertices2joints(self.J_regressor, v_shaped)
        rot = batch_rodrigues(pose.reshape(-1, 3)).reshape(batch, NUM_JOINTS, 3, 3)
        v_posed = v_shaped
        if self.has_pose_blend:
            pose_feature = (rot[:, 1:] - torch.eye(3, dtype=rot.dtype, device=rot.device)).reshape(batch, -1)
            v_posed = v_shaped + (pose_feature @ self.posedirs).reshape(batch, -1, 3)
        posed_joints, transforms = batch_rigid_transform(rot, joints, self.parents, dtype=rot.dtype)
        if transl is not None:
            shift = transl.expand(batch, 3)
            posed_joints = posed_joints + shift[:, None]
            transforms = transforms.clone()
            transforms[:, :, :3, 3] += shift[:, None]
        # blend only the 3x4 top rows; a broadcast multiply-sum beats V tiny batched 3x3 matmuls on CPU
        rows = transforms[:, :, :3, :].reshape(batch, NUM_JOINTS, 12)
        per_vertex = (self.lbs_weights @ rows).reshape(batch, -1, 3, 4)
        vertices = (per_vertex[..., :3] * v_posed[:, :, None, :]).sum(-1) + per_vertex[..., 3]
        return BodyOutput(vertices=vertices, joints=posed_joints, joint_transforms=transforms)

    @staticmethod
    def ground_offset(vertices: torch.Tensor) -> torch.Tensor:
        """y shift (N,) — or a scalar for (V,3) — that puts the lowest vertex (the feet) on y=0."""
        return -vertices[..., 1].amin(dim=-1)


def default_body_path() -> Path:
    """The shipped open body."""
    return resource_path("body", "open_body_neutral.npz")


def load_body_model(config: BodyConfig, device: torch.device | str = "cpu") -> BodyModel:
    """The body of ``config.model_path``, else ``$AVATARCLIP_BODY_MODEL``, else the shipped open body.

    Raises :class:`BodyModelError` naming the file when it is missing or not an SMPL-format model.
    """
    path = Path(config.model_path or os.environ.get(ENV_BODY_MODEL, "") or default_body_path())
    arrays = read_body_file(path)
    meta = metadata_of(path)
    semantics = tuple(s for s in meta.get("beta_semantics", "").split(",") if s)
    model = BodyModel(
        arrays, name=meta.get("name", path.stem), num_betas=config.num_betas, beta_semantics=semantics
    )
    return model.to(device)
