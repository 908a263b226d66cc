"""Rotation conversions: known values, round trips, edge angles (0 and pi), gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from avatarclip_studio.utils import rotations as rot


def random_rotations(n: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, 4, generator=g, dtype=dtype)
    return rot.quat_to_matrix(q / q.norm(dim=-1, keepdim=True))


def test_axis_angle_known_value() -> None:
    m = rot.axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64))
    expected = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    assert torch.allclose(m, expected, atol=1e-12)
    assert torch.allclose(m @ torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), expected[:, 0])


def test_quat_known_value_and_layout() -> None:
    # 90 deg about x: (w, x, y, z) = (cos 45, sin 45, 0, 0)
    q = rot.axis_angle_to_quat(torch.tensor([math.pi / 2, 0.0, 0.0], dtype=torch.float64))
    assert torch.allclose(q, torch.tensor([math.sqrt(0.5), math.sqrt(0.5), 0.0, 0.0], dtype=torch.float64))
    y_axis = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    assert torch.allclose(rot.quat_to_matrix(q) @ y_axis, torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matrix_axis_angle_round_trip_any_leading_dims(dtype: torch.dtype) -> None:
    m = random_rotations(60, dtype=dtype).reshape(3, 4, 5, 3, 3)
    back = rot.axis_angle_to_matrix(rot.matrix_to_axis_angle(m))
    assert back.shape == (3, 4, 5, 3, 3) and back.dtype == dtype
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    assert (back - m).abs().max() < tol


@pytest.mark.parametrize("angle", [0.0, 1e-9, 1e-4, 0.5, math.pi - 1e-4, math.pi - 1e-7, math.pi])
def test_axis_angle_round_trip_near_zero_and_pi(angle: float) -> None:
    axis = torch.tensor([0.3, -0.5, 0.8], dtype=torch.float64)
    aa = axis / axis.norm() * angle
    back = rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(aa))
    if angle > math.pi - 1e-3:  # at pi, +axis and -axis are the same rotation
        assert torch.allclose(back.norm(), torch.tensor(angle, dtype=torch.float64), atol=1e-6)
        assert torch.allclose(back.abs(), aa.abs(), atol=1e-6)
    else:
        assert torch.allclose(back, aa, atol=1e-10)


def test_quat_round_trips_and_sign() -> None:
    m = random_rotations(50, seed=1)
    q = rot.matrix_to_quat(m)
    assert (q[:, 0] >= 0).all()
    assert torch.allclose(q.norm(dim=-1), torch.ones(50, dtype=torch.float64))
    assert torch.allclose(rot.quat_to_matrix(q), m, atol=1e-12)
    assert torch.allclose(rot.quat_to_matrix(-q), m, atol=1e-12)
    aa = rot.quat_to_axis_angle(q)
    assert torch.allclose(rot.axis_angle_to_quat(aa), q, atol=1e-12)


def test_rot6d_round_trip_and_projection() -> None:
    m = random_rotations(20, seed=2)
    d6 = rot.matrix_to_rot6d(m)
    assert d6.shape == (20, 6)
    assert torch.allclose(d6[:, :3], m[:, :, 0])
    assert torch.allclose(rot.rot6d_to_matrix(d6), m, atol=1e-12)
    noisy = rot.rot6d_to_matrix(d6 * 3.0 + 0.05 * torch.randn(20, 6, dtype=torch.float64))
    eye = torch.eye(3, dtype=torch.float64).expand(20, 3, 3)
    assert torch.allclose(noisy.transpose(1, 2) @ noisy, eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(noisy), torch.ones(20, dtype=torch.float64))


def test_euler_known_value_bvh_order() -> None:
    # ZXY with only Z = 90: x axis -> y axis
    m = rot.euler_to_matrix(torch.tensor([90.0, 0.0, 0.0], dtype=torch.float64), order="ZXY")
    assert torch.allclose(m[:, 0], torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), atol=1e-12)
    # composition order: R = Rz @ Rx @ Ry
    angles = torch.tensor([30.0, 40.0, 50.0], dtype=torch.float64)
    rz = rot.axis_angle_to_matrix(torch.tensor([0, 0, math.radians(30)], dtype=torch.float64))
    rx = rot.axis_angle_to_matrix(torch.tensor([math.radians(40), 0, 0], dtype=torch.float64))
    ry = rot.axis_angle_to_matrix(torch.tensor([0, math.radians(50), 0], dtype=torch.float64))
    assert torch.allclose(rot.euler_to_matrix(angles, "ZXY"), rz @ rx @ ry, atol=1e-12)


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_euler_round_trip_all_orders(order: str) -> None:
    m = random_rotations(40, seed=3)
    angles = rot.matrix_to_euler(m, order)
    assert (angles[:, 1].abs() <= 90.0 + 1e-9).all()
    assert torch.allclose(rot.euler_to_matrix(angles, order), m, atol=1e-10)
    radians = rot.matrix_to_euler(m, order, degrees=False)
    assert torch.allclose(radians, torch.deg2rad(angles))


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "ZYX"])
def test_euler_gimbal_lock_still_reconstructs(order: str) -> None:
    angles = torch.tensor([[25.0, 90.0, 40.0], [-70.0, -90.0, 10.0]], dtype=torch.float64)
    m = rot.euler_to_matrix(angles, order)
    back = rot.matrix_to_euler(m, order)
    assert torch.allclose(back[:, 2], torch.zeros(2, dtype=torch.float64))
    assert torch.allclose(rot.euler_to_matrix(back, order), m, atol=1e-6)


def test_bad_euler_order_and_shape() -> None:
    with pytest.raises(ValueError, match="permutation"):
        rot.euler_to_matrix(torch.zeros(3), order="XXY")
    with pytest.raises(ValueError, match="axis-angle"):
        rot.axis_angle_to_matrix(torch.zeros(4))


def test_gradients_finite_at_zero_and_pi() -> None:
    aa = torch.zeros(2, 3, dtype=torch.float64)
    aa[1, 2] = math.pi - 1e-9
    aa.requires_grad_(True)
    m = rot.axis_angle_to_matrix(aa)
    back = rot.matrix_to_axis_angle(m)
    (m.sum() + back.sum() + rot.axis_angle_to_quat(aa).sum()).backward()
    assert aa.grad is not None and torch.isfinite(aa.grad).all()
    assert torch.autograd.gradcheck(
        rot.axis_angle_to_matrix, (torch.randn(4, 3, dtype=torch.float64).requires_grad_(),)
    )
    d6 = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rot.rot6d_to_matrix, (d6,))


def test_slerp_midpoint_and_ends() -> None:
    q0 = rot.axis_angle_to_quat(torch.tensor([0.0, 0.0, 0.0], dtype=torch.float64))
    q1 = rot.axis_angle_to_quat(torch.tensor([0.0, 1.2, 0.0], dtype=torch.float64))
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    q = rot.quat_slerp(q0.expand(3, 4), -q1.expand(3, 4), t)  # sign flip must not take the long way
    aa = rot.quat_to_axis_angle(q)
    assert torch.allclose(aa[:, 1], torch.tensor([0.0, 0.6, 1.2], dtype=torch.float64), atol=1e-12)


def test_numpy_wrappers_keep_dtype() -> None:
    aa = np.random.default_rng(0).uniform(-1.5, 1.5, size=(7, 3)).astype(np.float32)  # angles < pi
    m = rot.axis_angle_to_matrix_np(aa)
    assert m.dtype == np.float32 and m.shape == (7, 3, 3)
    assert np.allclose(rot.matrix_to_axis_angle_np(m), aa, atol=1e-5)
    e = rot.matrix_to_euler_np(m.astype(np.float64), "ZXY")
    assert np.allclose(rot.euler_to_matrix_np(e, "ZXY"), m, atol=1e-6)
    assert np.allclose(rot.quat_to_matrix_np(np.array([1.0, 0, 0, 0])), np.eye(3))
