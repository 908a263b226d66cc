"""Rigging any mesh to the body's skeleton: skin-weight transfer, inverse LBS, and posing.

Each vertex takes the skinning weights of the closest point on the body's surface, interpolated
barycentrically inside the closest body triangle (smoother than the nearest vertex's weights, which
jump at Voronoi borders). Posing is the body's linear blend skinning with the same joint transforms.
"""

from __future__ import annotations

import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree
from smplx.lbs import batch_rigid_transform

from avatarclip_studio.avatar.skinned import SkinnedAvatar
from avatarclip_studio.body.model import BodyModel
from avatarclip_studio.body.skeleton import NUM_JOINTS, PARENTS
from avatarclip_studio.utils.rotations import axis_angle_to_matrix

_CHUNK = 20000


def _vertex_faces(faces: np.ndarray, num_vertices: int) -> np.ndarray:
    """(V, K) ids of the faces around each vertex, padded by repeating one of them."""
    order = np.argsort(faces.ravel(), kind="stable")
    owner = faces.ravel()[order]
    counts = np.bincount(owner, minlength=num_vertices)
    width = max(int(counts.max()), 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.minimum(np.arange(width)[None, :], np.maximum(counts[:, None] - 1, 0))
    return (order[starts[:, None] + slot] // 3).astype(np.int64)


def transfer_weights(
    vertices: np.ndarray,
    body_vertices: np.ndarray,
    body_faces: np.ndarray,
    body_weights: np.ndarray,
    neighbours: int = 4,
) -> np.ndarray:
    """Skinning weights (V, J) float32 of ``vertices (V, 3)`` from a body surface.

    ``body_vertices (B, 3)``, ``body_faces (F, 3)``, ``body_weights (B, J)``, all in the same pose as
    ``vertices``. The closest body triangle is searched among the triangles around the ``neighbours``
    nearest body vertices.
    """
    body_faces = np.asarray(body_faces, np.int64)
    around = _vertex_faces(body_faces, len(body_vertices))
    tree = cKDTree(body_vertices)
    out = np.empty((len(vertices), body_weights.shape[1]), np.float32)
    for start in range(0, len(vertices), _CHUNK):
        points = np.asarray(vertices[start : start + _CHUNK], np.float64)
        _, nearest = tree.query(points, k=neighbours)
        candidates = around[nearest.reshape(len(points), -1)].reshape(len(points), -1)
        triangles = body_vertices[body_faces[candidates.ravel()]].astype(np.float64)
        repeated = np.repeat(points, candidates.shape[1], axis=0)
        closest = trimesh.triangles.closest_point(triangles, repeated)
        dist = np.linalg.norm(closest - repeated, axis=1).reshape(len(points), -1)
        best = candidates[np.arange(len(points)), dist.argmin(axis=1)]
        tri = body_vertices[body_faces[best]].astype(np.float64)
        hit = trimesh.triangles.closest_point(tri, points)
        bary = np.clip(trimesh.triangles.points_to_barycentric(tri, hit), 0.0, 1.0)
        weights = np.einsum("nk,nkj->nj", bary, body_weights[body_faces[best]])
        out[start : start + len(points)] = weights / weights.sum(axis=1, keepdims=True)
    return out


def joint_transforms(
    rest_joints: np.ndarray | torch.Tensor,
    poses: np.ndarray | torch.Tensor,
    trans: np.ndarray | torch.Tensor | None = None,
    parents: tuple[int, ...] = PARENTS,
) -> torch.Tensor:
    """Skinning transforms (T, 24, 4, 4) float32, as the body model's ``joint_transforms``.

    ``rest_joints (24, 3)``, ``poses (T, 24, 3)`` axis-angle (joint 0 global), ``trans (T, 3)``.
    """
    poses_t = torch.as_tensor(np.asarray(poses, np.float32)).reshape(-1, NUM_JOINTS, 3)
    frames = len(poses_t)
    joints = (
        torch.as_tensor(np.asarray(rest_joints, np.float32)).reshape(1, NUM_JOINTS, 3).expand(frames, -1, -1)
    )
    rot = axis_angle_to_matrix(poses_t)
    parent_t = torch.as_tensor(parents, dtype=torch.long)
    _, transforms = batch_rigid_transform(rot, joints.contiguous(), parent_t, dtype=torch.float32)
    if trans is not None:
        transforms = transforms.clone()
        transforms[:, :, :3, 3] += torch.as_tensor(np.asarray(trans, np.float32)).reshape(frames, 1, 3)
    return transforms


def skin(vertices: np.ndarray, weights: np.ndarray, transforms: torch.Tensor) -> np.ndarray:
    """Linear blend skinning: ``vertices (V, 3)``, ``weights (V, J)``, ``transforms (T, J, 4, 4)``
    -> (T, V, 3) float32."""
    per_vertex = torch.einsum("vj,tjab->tvab", torch.as_tensor(weights), transforms)
    homo = torch.nn.functional.pad(torch.as_tensor(vertices, dtype=torch.float32), (0, 1), value=1.0)
    return torch.einsum("tvab,vb->tva", per_vertex[..., :3, :], homo).numpy()


def unskin(vertices: np.ndarray, weights: np.ndarray, transforms: torch.Tensor) -> np.ndarray:
    """Inverse LBS of one pose: ``vertices (V, 3)`` posed by ``transforms (J, 4, 4)`` -> rest (V, 3)."""
    per_vertex = torch.einsum("vj,jab->vab", torch.as_tensor(weights), transforms.reshape(-1, 4, 4))
    homo = torch.nn.functional.pad(torch.as_tensor(vertices, dtype=torch.float32), (0, 1), value=1.0)
    rest = torch.linalg.solve(per_vertex, homo[..., None])[..., 0]
    return rest[:, :3].numpy()


def _betas_tensor(betas: np.ndarray | torch.Tensor | None, body: BodyModel) -> torch.Tensor | None:
    if betas is None:
        return None
    b = torch.as_tensor(np.asarray(betas.detach().cpu() if isinstance(betas, torch.Tensor) else betas))
    return b.reshape(1, -1).float().to(body.v_template.device)


def make_skinned_avatar(
    vertices: np.ndarray,
    faces: np.ndarray,
    colors: np.ndarray,
    body: BodyModel,
    betas: np.ndarray | torch.Tensor | None,
    pose: np.ndarray | None = None,
) -> SkinnedAvatar:
    """Rig a mesh that wraps ``body`` with shape ``betas (B,)``.

    ``pose (24, 3)`` axis-angle (or (72,)): the pose the mesh was built in (e.g. AvatarCLIP's stand pose);
    the mesh is brought back to the rest pose by inverse LBS. None: the mesh is already in the rest pose.
    """
    vertices = np.asarray(vertices, np.float32)
    faces = np.asarray(faces, np.int32)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) == 0:
        raise ValueError(
            f"cannot rig a mesh with vertices of shape {vertices.shape}: (V, 3) with V > 0 needed"
        )
    b = _betas_tensor(betas, body)
    with torch.no_grad():
        rest_body, rest_joints = body.rest(b)
        body_weights = body.lbs_weights.cpu().numpy()
        body_faces = body.faces.cpu().numpy()
        if pose is None:
            weights = transfer_weights(vertices, rest_body[0].cpu().numpy(), body_faces, body_weights)
            rest = vertices
        else:
            flat = torch.as_tensor(np.asarray(pose, np.float32).reshape(1, 3 * NUM_JOINTS))
            posed = body(b, body_pose=flat[:, 3:], global_orient=flat[:, :3])
            weights = transfer_weights(vertices, posed.vertices[0].cpu().numpy(), body_faces, body_weights)
            rest = unskin(vertices, weights, posed.joint_transforms[0].cpu())
    return SkinnedAvatar(
        vertices=rest.astype(np.float32),
        faces=faces,
        colors=np.clip(np.asarray(colors, np.float32), 0.0, 1.0),
        skin_weights=weights,
        joints=rest_joints[0].cpu().numpy().astype(np.float32),
        betas=None if b is None else b[0].cpu().numpy(),
    )


def pose_avatar(
    avatar: SkinnedAvatar,
    poses: np.ndarray,
    trans: np.ndarray | None = None,
) -> np.ndarray:
    """Posed vertices: ``poses (24, 3)`` -> (V, 3), or ``(T, 24, 3)`` -> (T, V, 3); ``trans (3,)``/(T, 3)."""
    poses = np.asarray(poses, np.float32)
    single = poses.shape in ((NUM_JOINTS, 3), (3 * NUM_JOINTS,))
    transforms = joint_transforms(avatar.joints, poses, trans, avatar.parents)
    posed = skin(avatar.vertices, avatar.skin_weights, transforms)
    return posed[0] if single else posed
