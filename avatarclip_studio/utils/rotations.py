"""Rotation conversions in torch: batched over any leading dims, differentiable, float32 or float64.

Conventions:
- axis-angle ``(..., 3)``: the axis scaled by the angle in radians (SMPL's pose format);
- rotation matrices ``(..., 3, 3)`` act on column vectors (``x' = R @ x``);
- quaternions ``(..., 4)`` are ``(w, x, y, z)``, unit length; the sign is free (``q`` and ``-q`` agree);
- 6D ``(..., 6)`` is the first two matrix columns (Zhou et al. 2019), ``[R[:, 0], R[:, 1]]``;
- Euler angles ``(..., 3)`` follow BVH: order ``"ZXY"`` means ``R = Rz(a0) @ Rx(a1) @ Ry(a2)``.

The ``*_np`` helpers take and return numpy arrays (computed in float64, returned in the input's float dtype).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

_SMALL = 1e-6  # below this angle (rad) the Taylor series is exact to float64 rounding


def _axis_index(order: str) -> tuple[int, int, int]:
    order = order.upper()
    if len(order) != 3 or set(order) != {"X", "Y", "Z"}:
        raise ValueError(f"Euler order must be a permutation of 'XYZ', got {order!r}")
    return ("XYZ".index(order[0]), "XYZ".index(order[1]), "XYZ".index(order[2]))


def _check_last(x: torch.Tensor, shape: tuple[int, ...], what: str) -> None:
    if tuple(x.shape[x.dim() - len(shape) :]) != shape:
        raise ValueError(f"{what} must have shape (..., {', '.join(map(str, shape))}), got {tuple(x.shape)}")


def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula. aa: (..., 3) -> (..., 3, 3); smooth (and with finite gradients) at zero."""
    _check_last(aa, (3,), "axis-angle")
    theta2 = (aa * aa).sum(-1, keepdim=True)
    small = theta2 < _SMALL**2
    # evaluate the closed forms on a safe value where the angle is tiny, so no NaN leaks into gradients
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta2), theta2))
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)  # sin(t)/t
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / (theta * theta))  # (1-cos t)/t^2
    x, y, z = aa.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape((*aa.shape[:-1], 3, 3))
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(k)
    return eye + a[..., None] * k + b[..., None] * (k @ k)


def matrix_to_quat(m: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 4) unit (w, x, y, z), w >= 0; stable at every angle (picks the best pivot)."""
    _check_last(m, (3, 3), "rotation matrix")
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m.reshape((*m.shape[:-2], 9)).unbind(-1)
    # 4|q_i|^2 for each component; the largest one is the safe divisor (Shepperd's method)
    q_abs = torch.sqrt(
        torch.clamp(
            torch.stack(
                [1.0 + m00 + m11 + m22, 1.0 + m00 - m11 - m22, 1.0 - m00 + m11 - m22, 1.0 - m00 - m11 + m22],
                -1,
            ),
            min=1e-12,
        )
    )
    candidates = torch.stack(
        [
            torch.stack([q_abs[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], -1),
            torch.stack([m21 - m12, q_abs[..., 1] ** 2, m10 + m01, m02 + m20], -1),
            torch.stack([m02 - m20, m10 + m01, q_abs[..., 2] ** 2, m12 + m21], -1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3] ** 2], -1),
        ],
        -2,
    ) / (2.0 * q_abs[..., :, None].clamp(min=0.1))  # the chosen row has q_abs >= 1; others are dropped
    best = q_abs.argmax(-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand((*best.shape, 1, 4))).squeeze(-2)
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


def quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) (w, x, y, z), normalised here -> (..., 3, 3)."""
    _check_last(q, (4,), "quaternion")
    w, x, y, z = q.unbind(-1)
    s = 2.0 / (q * q).sum(-1)
    m = torch.stack(
        [
            1 - s * (y * y + z * z),
            s * (x * y - z * w),
            s * (x * z + y * w),
            s * (x * y + z * w),
            1 - s * (x * x + z * z),
            s * (y * z - x * w),
            s * (x * z - y * w),
            s * (y * z + x * w),
            1 - s * (x * x + y * y),
        ],
        -1,
    )
    return m.reshape((*q.shape[:-1], 3, 3))


def axis_angle_to_quat(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 4) (w, x, y, z)."""
    _check_last(aa, (3,), "axis-angle")
    theta2 = (aa * aa).sum(-1, keepdim=True)
    small = theta2 < _SMALL**2
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta2), theta2))
    half_sinc = torch.where(small, 0.5 - theta2 / 48.0, torch.sin(theta / 2) / theta)  # sin(t/2)/t
    w = torch.where(small, 1.0 - theta2 / 8.0, torch.cos(theta / 2))
    return torch.cat([w, aa * half_sinc], -1)


def quat_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) (w, x, y, z) -> (..., 3) with angle in [0, pi]; exact near 0 and pi."""
    _check_last(q, (4,), "quaternion")
    q = torch.where(q[..., :1] < 0, -q, q)  # the shorter of the two equivalent rotations
    v = q[..., 1:]
    s2 = (v * v).sum(-1, keepdim=True)
    small = s2 < _SMALL**2
    s = torch.sqrt(torch.where(small, torch.ones_like(s2), s2))
    angle = 2.0 * torch.atan2(s, q[..., :1])
    scale = torch.where(small, 2.0 / q[..., :1] * (1.0 - s2 / (3.0 * q[..., :1] ** 2)), angle / s)
    return v * scale


def matrix_to_axis_angle(m: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 3), angle in [0, pi]; through the quaternion, so robust near 0 and pi."""
    return quat_to_axis_angle(matrix_to_quat(m))


def matrix_to_rot6d(m: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) -> (..., 6): the first two columns, concatenated."""
    _check_last(m, (3, 3), "rotation matrix")
    return torch.cat([m[..., :, 0], m[..., :, 1]], -1)


def rot6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt; any 6 numbers with non-parallel halves give a rotation."""
    _check_last(d6, (6,), "6D rotation")
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], -1)


def _axis_rotation(axis: int, angle: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    rows = {
        0: [one, zero, zero, zero, c, -s, zero, s, c],
        1: [c, zero, s, zero, one, zero, -s, zero, c],
        2: [c, -s, zero, s, c, zero, zero, zero, one],
    }[axis]
    return torch.stack(rows, -1).reshape((*angle.shape, 3, 3))


def euler_to_matrix(angles: torch.Tensor, order: str = "ZXY", degrees: bool = True) -> torch.Tensor:
    """(..., 3) angles listed in ``order`` -> (..., 3, 3) = R_order[0] @ R_order[1] @ R_order[2] (BVH)."""
    _check_last(angles, (3,), "Euler angles")
    axes = _axis_index(order)
    rad = torch.deg2rad(angles) if degrees else angles
    r = [_axis_rotation(ax, rad[..., n]) for n, ax in enumerate(axes)]
    return r[0] @ r[1] @ r[2]


def matrix_to_euler(m: torch.Tensor, order: str = "ZXY", degrees: bool = True) -> torch.Tensor:
    """(..., 3, 3) -> (..., 3) angles in ``order``, middle angle in [-90, 90] degrees.

    At gimbal lock (middle angle ±90°) the last angle is set to 0 and the first absorbs the rotation.
    """
    _check_last(m, (3, 3), "rotation matrix")
    i, j, k = _axis_index(order)
    sign = 1.0 if (j - i) % 3 == 1 else -1.0  # +1 for cyclic orders (XYZ, YZX, ZXY)
    sin_b = torch.clamp(sign * m[..., i, k], -1.0, 1.0)
    b = torch.asin(sin_b)
    cos_b = torch.sqrt(torch.clamp(1.0 - sin_b * sin_b, min=0.0))
    locked = cos_b < 1e-6
    a = torch.atan2(-sign * m[..., j, k], m[..., k, k])
    c = torch.atan2(-sign * m[..., i, j], m[..., i, i])
    # locked: c = 0, so R @ R_j(b)^T is a pure rotation about axis i
    m_a = m @ _axis_rotation(j, b).transpose(-1, -2)
    jj, kk = (i + 1) % 3, (i + 2) % 3
    a_locked = torch.atan2(m_a[..., kk, jj], m_a[..., jj, jj])
    a = torch.where(locked, a_locked, a)
    c = torch.where(locked, torch.zeros_like(c), c)
    out = torch.stack([a, b, c], -1)
    return torch.rad2deg(out) if degrees else out


def quat_slerp(q0: torch.Tensor, q1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation along the short arc. q0, q1: (..., 4); t: (...,) in [0, 1] -> (..., 4)."""
    _check_last(q0, (4,), "quaternion")
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)
    dot = dot.abs().clamp(max=1.0)
    t = t[..., None]
    omega = torch.acos(dot)
    sin_omega = torch.sin(omega)
    near = sin_omega < 1e-6  # nearly equal: linear interpolation is exact to rounding
    safe = torch.where(near, torch.ones_like(sin_omega), sin_omega)
    w0 = torch.where(near, 1.0 - t, torch.sin((1.0 - t) * omega) / safe)
    w1 = torch.where(near, t, torch.sin(t * omega) / safe)
    q = w0 * q0 + w1 * q1
    return q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)


def _via_torch(fn: Callable[..., torch.Tensor], x: np.ndarray, **kwargs: object) -> np.ndarray:
    arr = np.asarray(x)
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    out = fn(torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float64)), **kwargs)
    return out.numpy().astype(dtype, copy=False)


def axis_angle_to_matrix_np(aa: np.ndarray) -> np.ndarray:
    return _via_torch(axis_angle_to_matrix, aa)


def matrix_to_axis_angle_np(m: np.ndarray) -> np.ndarray:
    return _via_torch(matrix_to_axis_angle, m)


def quat_to_matrix_np(q: np.ndarray) -> np.ndarray:
    return _via_torch(quat_to_matrix, q)


def euler_to_matrix_np(angles: np.ndarray, order: str = "ZXY", degrees: bool = True) -> np.ndarray:
    return _via_torch(euler_to_matrix, angles, order=order, degrees=degrees)


def matrix_to_euler_np(m: np.ndarray, order: str = "ZXY", degrees: bool = True) -> np.ndarray:
    return _via_torch(matrix_to_euler, m, order=order, degrees=degrees)
