"""What the viewport shows, without Qt or GL: the mesh, the skinned avatar's pose, the view toggles.

The GL widget observes it; each content field carries a revision number so the widget re-uploads only
what changed (a new snapshot → a new mesh buffer; a new frame → 24 joint matrices).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from avatarclip_studio.avatar.skinned import SkinnedAvatar

RenderMode = Literal["textured", "gray", "normals"]
RENDER_MODES: tuple[RenderMode, ...] = ("textured", "gray", "normals")
DEFAULT_COLOR = (0.72, 0.72, 0.74)


@dataclass
class StaticMesh:
    vertices: np.ndarray  # (V, 3) float32
    faces: np.ndarray  # (F, 3) int32
    colors: np.ndarray  # (V, 3) float32 in [0, 1]


class ViewportScene:
    """Either a static mesh (a live snapshot, a loaded shape) or a skinned avatar posed per frame."""

    def __init__(self) -> None:
        self.mesh: StaticMesh | None = None
        self.avatar: SkinnedAvatar | None = None
        self.joint_transforms: np.ndarray | None = None  # (24, 4, 4) float32, None: rest pose
        self.joints: np.ndarray | None = None  # (24, 3) posed joint positions for the skeleton
        self.mode: RenderMode = "textured"
        self.wireframe = False
        self.show_grid = True
        self.show_skeleton = False
        self.floor_y = 0.0
        """Height of the ground the content stands on: its lowest point in the rest pose (a motion's
        root translation is relative to standing in the rest pose)."""
        self.mesh_revision = 0
        self.avatar_revision = 0
        self.pose_revision = 0
        self._listeners: list[Callable[[], None]] = []

    def add_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def changed(self) -> None:
        """Tell the views to redraw (call after editing a toggle)."""
        for listener in self._listeners:
            listener()

    def set_mesh(self, vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None) -> None:
        """A static mesh replaces the avatar: ``vertices (V, 3)``, ``faces (F, 3)``, ``colors (V, 3)``."""
        vertices = np.ascontiguousarray(vertices, dtype=np.float32)
        faces = np.ascontiguousarray(faces, dtype=np.int32)
        if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) == 0:
            raise ValueError(f"a mesh needs (V, 3) vertices with V > 0, got {vertices.shape}")
        if faces.ndim != 2 or faces.shape[1] != 3 or (len(faces) and faces.max() >= len(vertices)):
            raise ValueError(f"mesh faces must be (F, 3) indices below {len(vertices)}, got {faces.shape}")
        if colors is None:
            colors = np.broadcast_to(np.asarray(DEFAULT_COLOR, np.float32), vertices.shape)
        colors = np.ascontiguousarray(np.clip(colors, 0.0, 1.0), dtype=np.float32)
        if colors.shape != vertices.shape:
            raise ValueError(f"mesh colours must be {vertices.shape}, got {colors.shape}")
        self.mesh = StaticMesh(vertices, faces, colors)
        self.floor_y = float(vertices[:, 1].min())
        if self.avatar is not None:
            self.avatar, self.joint_transforms, self.joints = None, None, None
            self.avatar_revision += 1
        self.mesh_revision += 1
        self.changed()

    def set_avatar(self, avatar: SkinnedAvatar) -> None:
        """Show ``avatar`` in its rest pose; it replaces the static mesh."""
        if self.mesh is not None:
            self.mesh = None
            self.mesh_revision += 1
        self.avatar = avatar
        self.floor_y = float(avatar.vertices[:, 1].min())
        self.joint_transforms, self.joints = None, avatar.joints.astype(np.float32)
        self.avatar_revision += 1
        self.changed()

    def set_pose(self, joint_transforms: np.ndarray, joints: np.ndarray) -> None:
        """Pose the avatar: skinning ``joint_transforms (24, 4, 4)`` and posed ``joints (24, 3)``."""
        if self.avatar is None:
            return
        self.joint_transforms = np.asarray(joint_transforms, np.float32)
        self.joints = np.asarray(joints, np.float32)
        self.pose_revision += 1
        self.changed()

    def clear(self) -> None:
        self.mesh, self.avatar, self.joint_transforms, self.joints = None, None, None, None
        self.mesh_revision += 1
        self.avatar_revision += 1
        self.changed()

    def bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(lo (3,), hi (3,)) of what is shown, posed; None when empty."""
        if self.mesh is not None:
            points = self.mesh.vertices
        elif self.avatar is not None:
            points = self.joints if self.joints is not None else self.avatar.joints
            lo, hi = self.avatar.vertices.min(0), self.avatar.vertices.max(0)
            # the posed extent: the rest extent moved with the joints (cheap, no CPU skinning)
            shift = points.mean(0) - self.avatar.joints.mean(0)
            return lo + shift, hi + shift
        else:
            return None
        return points.min(0), points.max(0)
