"""Skin transfer, inverse LBS and posing against the body model's own skinning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avatarclip_studio.avatar.skinning import make_skinned_avatar, pose_avatar, transfer_weights
from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.model import load_body_model
from avatarclip_studio.body.skeleton import JOINT_INDEX


@pytest.fixture(scope="module")
def body():
    return load_body_model(BodyConfig())


@pytest.fixture(scope="module")
def pose():
    rng = np.random.default_rng(0)
    return rng.normal(0, 0.3, (24, 3)).astype(np.float32)


def _posed_body(body, betas, pose, trans):
    out = body(
        torch.as_tensor(betas)[None],
        body_pose=torch.as_tensor(pose[1:].reshape(1, 69)),
        global_orient=torch.as_tensor(pose[:1]),
        transl=torch.as_tensor(trans)[None],
    )
    return out.vertices[0].numpy()


def test_the_body_rigged_as_an_avatar_keeps_its_weights_and_poses_like_the_body(body, pose):
    betas = np.zeros(body.num_betas, np.float32)
    betas[0] = 1.0
    rest = body.rest(torch.as_tensor(betas)[None])[0][0].numpy()
    colors = np.full_like(rest, 0.5)
    avatar = make_skinned_avatar(rest, body.faces.numpy(), colors, body, betas)
    np.testing.assert_allclose(avatar.skin_weights, body.lbs_weights.numpy(), atol=1e-5)
    np.testing.assert_allclose(avatar.betas, betas)
    trans = np.array([0.1, 0.2, -0.3], np.float32)
    expected = _posed_body(body, betas, pose, trans)
    # the open body has no pose correctives beyond what LBS does, so this matches to float precision
    np.testing.assert_allclose(pose_avatar(avatar, pose, trans), expected, atol=1e-4)
    frames = pose_avatar(avatar, np.stack([np.zeros_like(pose), pose]), np.stack([trans * 0, trans]))
    assert frames.shape == (2, len(rest), 3)
    np.testing.assert_allclose(frames[0], rest, atol=1e-5)


def test_inverse_lbs_brings_a_posed_mesh_back_to_rest(body, pose):
    betas = np.zeros(body.num_betas, np.float32)
    posed = _posed_body(body, betas, pose, np.zeros(3, np.float32))
    avatar = make_skinned_avatar(posed, body.faces.numpy(), np.ones_like(posed), body, betas, pose=pose)
    rest = body.rest(None)[0][0].numpy()
    np.testing.assert_allclose(avatar.vertices, rest, atol=1e-4)
    np.testing.assert_allclose(pose_avatar(avatar, pose), posed, atol=1e-4)


def test_an_inflated_mesh_takes_the_weights_of_the_nearest_body_part(body):
    rest = body.rest(None)[0][0].numpy()
    normals = np.zeros_like(rest)
    faces = body.faces.numpy()
    tri = rest[faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    for k in range(3):
        np.add.at(normals, faces[:, k], face_n)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    puffy = rest + 0.01 * normals  # clothing 1 cm off the skin
    weights = transfer_weights(puffy, rest, faces, body.lbs_weights.numpy())
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    agree = weights.argmax(1) == body.lbs_weights.numpy().argmax(1)
    assert agree.mean() > 0.97
    hand = rest[:, 0].argmax()  # the tip of the left arm (SMPL's +x)
    assert weights[hand].argmax() in (JOINT_INDEX["left_wrist"], JOINT_INDEX["left_hand"])


def test_bad_mesh_is_a_clear_error(body):
    with pytest.raises(ValueError, match="vertices"):
        make_skinned_avatar(np.zeros((0, 3)), np.zeros((0, 3), int), np.zeros((0, 3)), body, None)
