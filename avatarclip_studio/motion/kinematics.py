"""Skeleton-only forward kinematics, for grounding and checking motions without a body mesh.

The rest joints are those of the shipped open body (``resources/body/open_body_neutral.npz``,
``BodyModel.rest()``), rounded to the millimetre; any SMPL-like body has joints within a few cm.
"""

from __future__ import annotations

import numpy as np
import torch
from smplx.lbs import batch_rigid_transform

from avatarclip_studio.body.skeleton import JOINT_INDEX, PARENTS
from avatarclip_studio.utils.rotations import axis_angle_to_matrix

REST_JOINTS = np.array(
    [
        [0.000, 0.000, 0.000],  # pelvis
        [0.110, -0.010, -0.008],
        [-0.110, -0.010, -0.008],
        [0.000, 0.080, -0.038],  # spine1
        [0.144, -0.394, 0.021],
        [-0.144, -0.394, 0.021],
        [0.000, 0.231, -0.025],  # spine2
        [0.184, -0.822, -0.009],
        [-0.184, -0.822, -0.009],
        [0.000, 0.360, -0.041],  # spine3
        [0.197, -0.872, 0.132],
        [-0.197, -0.872, 0.132],
        [0.000, 0.545, -0.011],  # neck
        [0.024, 0.470, 0.005],
        [-0.024, 0.470, 0.005],
        [0.000, 0.646, 0.024],  # head
        [0.176, 0.448, 0.001],
        [-0.176, 0.448, 0.001],
        [0.438, 0.443, -0.002],  # left elbow
        [-0.438, 0.443, -0.002],
        [0.672, 0.442, -0.001],  # left wrist
        [-0.672, 0.442, -0.001],
        [0.774, 0.439, -0.010],
        [-0.774, 0.439, -0.010],
    ],
    dtype=np.float32,
)
"""(24, 3) T-pose joint positions, metres, pelvis at the origin, y up, facing +z."""

_CONTACTS = (
    # (joint the point moves with, offset from that joint's rest position): heels, toe tips, shins
    ("left_ankle", (0.0, -0.075, -0.03)),
    ("right_ankle", (0.0, -0.075, -0.03)),
    ("left_foot", (0.0, -0.026, 0.05)),
    ("right_foot", (0.0, -0.026, 0.05)),
    ("left_knee", (0.0, -0.07, 0.06)),
    ("right_knee", (0.0, -0.07, 0.06)),
)
"""Points where the body touches the floor when standing, on tiptoe or kneeling."""


def _posed(rot: torch.Tensor, rest: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    joints = torch.as_tensor(rest, dtype=rot.dtype, device=rot.device).expand(len(rot), -1, -1)
    parents = torch.tensor(PARENTS, device=rot.device)
    return batch_rigid_transform(rot, joints.contiguous(), parents, dtype=rot.dtype)


def joint_positions_from_matrices(rot: torch.Tensor, rest: np.ndarray = REST_JOINTS) -> torch.Tensor:
    """Posed joints (T, 24, 3) of joint rotation matrices ``rot`` (T, 24, 3, 3), root at the origin."""
    return _posed(rot, rest)[0]


def joint_positions(
    poses: torch.Tensor, trans: torch.Tensor | None = None, rest: np.ndarray = REST_JOINTS
) -> torch.Tensor:
    """Posed joints (T, 24, 3) of axis-angle ``poses`` (T, 24, 3) plus root ``trans`` (T, 3)."""
    posed = joint_positions_from_matrices(axis_angle_to_matrix(poses), rest)
    return posed if trans is None else posed + trans[:, None]


def sole_height(poses: torch.Tensor, rest: np.ndarray = REST_JOINTS) -> torch.Tensor:
    """Height (T,) of the lowest floor contact (heels, toes, shins) of ``poses`` (T, 24, 3), no trans."""
    _, transforms = _posed(axis_angle_to_matrix(poses), rest)
    idx = [JOINT_INDEX[name] for name, _ in _CONTACTS]
    points = torch.as_tensor(rest[idx] + np.array([off for _, off in _CONTACTS]), dtype=poses.dtype)
    homo = torch.nn.functional.pad(points, (0, 1), value=1.0)
    heights = torch.einsum("tpb,pb->tp", transforms[:, idx, 1, :], homo)
    return heights.amin(dim=1)


REST_SOLE_HEIGHT = float(sole_height(torch.zeros(1, 24, 3))[0])
"""The floor, in the rest body's frame: a clip's ``trans`` is 0 when standing in the rest pose."""


def ground(poses: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """Root translation (T, 3) with the motion put on the floor: the clip shifted so its lowest
    contact touches it, then any frame still sinking lifted out (airborne frames stay airborne)."""
    soles = sole_height(poses) + trans[:, 1]
    shift = REST_SOLE_HEIGHT - soles.min()
    lift = (REST_SOLE_HEIGHT - (soles + shift)).clamp(min=0.0)
    out = trans.clone()
    out[:, 1] = trans[:, 1] + shift + lift
    return out
