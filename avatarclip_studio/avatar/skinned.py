"""A skinned avatar: the mesh the viewer animates and the exporters write."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatarclip_studio.body.skeleton import PARENTS
from avatarclip_studio.utils.npz import NPZ_ERRORS


@dataclass
class SkinnedAvatar:
    """A mesh in the rest pose (SMPL T-pose), bound to the 24-joint skeleton.

    Units metres, y up, the body faces +z (SMPL's frame). Posed by linear blend skinning with
    ``body.lbs``-compatible joint transforms.
    """

    vertices: np.ndarray  # (V, 3) float32, rest pose
    faces: np.ndarray  # (F, 3) int32
    colors: np.ndarray  # (V, 3) float32 in [0, 1]
    skin_weights: np.ndarray  # (V, 24) float32, rows sum to 1
    joints: np.ndarray  # (24, 3) float32, rest-pose joint positions
    parents: tuple[int, ...] = PARENTS
    betas: np.ndarray | None = None  # (B,) the body shape it was built from, if any
    uvs: np.ndarray | None = None  # (V, 2) float32, texture coordinates of ``texture``
    texture: np.ndarray | None = None  # (H, W, 3) uint8

    def __post_init__(self) -> None:
        v = len(self.vertices)
        if self.vertices.shape != (v, 3) or v == 0:
            raise ValueError(f"avatar vertices must be (V, 3) with V > 0, got {self.vertices.shape}")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3 or len(self.faces) == 0:
            raise ValueError(f"avatar faces must be (F, 3) with F > 0, got {self.faces.shape}")
        if self.faces.min() < 0 or self.faces.max() >= v:
            raise ValueError("avatar faces index vertices that do not exist")
        if self.skin_weights.shape != (v, len(self.parents)):
            raise ValueError(
                f"skin weights must be ({v}, {len(self.parents)}), got {self.skin_weights.shape}"
            )
        if self.colors.shape != (v, 3):
            raise ValueError(f"vertex colours must be ({v}, 3), got {self.colors.shape}")

    def save(self, path: str) -> None:
        """``.npz`` with every array (atomic)."""
        from avatarclip_studio.utils.atomic import atomic_path

        arrays = {k: getattr(self, k) for k in ("vertices", "faces", "colors", "skin_weights", "joints")}
        arrays["parents"] = np.asarray(self.parents, dtype=np.int32)
        for k in ("betas", "uvs", "texture"):
            if getattr(self, k) is not None:
                arrays[k] = getattr(self, k)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path: str) -> SkinnedAvatar:
        """Read a file written by :meth:`save`; ``ValueError`` naming ``path`` when it is not one."""
        try:
            with np.load(path, allow_pickle=False) as data:
                get = {k: data[k] for k in data.files}
        except NPZ_ERRORS as exc:
            raise ValueError(f"{path}: not a readable avatar file ({exc})") from exc
        odd = sorted(k for k, v in get.items() if v.dtype.kind not in "iuf")
        if odd:
            raise ValueError(f"{path}: avatar arrays {', '.join(odd)} must hold real numbers")
        try:
            avatar = cls(
                vertices=get["vertices"].astype(np.float32),
                faces=get["faces"].astype(np.int32),
                colors=get["colors"].astype(np.float32),
                skin_weights=get["skin_weights"].astype(np.float32),
                joints=get["joints"].astype(np.float32),
                parents=tuple(int(p) for p in get["parents"]),
                betas=get.get("betas"),
                uvs=get.get("uvs"),
                texture=get.get("texture"),
            )
        except KeyError as exc:
            raise ValueError(f"{path}: avatar file lacks {exc}") from exc
        except (
            ValueError,
            TypeError,
            OverflowError,
        ) as exc:  # shapes that do not fit (checked in __post_init__)
            raise ValueError(f"{path}: not a usable avatar ({exc})") from exc
        arrays = (avatar.vertices, avatar.colors, avatar.skin_weights, avatar.joints)
        if not all(np.isfinite(a).all() for a in arrays):
            raise ValueError(f"{path}: avatar arrays hold NaN or infinite values")
        if avatar.parents != PARENTS or avatar.joints.shape != (len(PARENTS), 3):
            raise ValueError(f"{path}: the avatar is not bound to SMPL's 24-joint skeleton")
        return avatar
