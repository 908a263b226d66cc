"""The grey template's reference render by ray casting its mesh (Embree through trimesh).

Sculpting compares the grey head c with the template rendered under the same light. Casting the view's
rays at the template mesh gives that render exactly (first hit, smooth normal) in about a millisecond,
where rendering a frozen copy of the initial field costs a NeuS pass over ~10⁵ samples every step.
Embree (`embreex`) has wheels for x86-64 Linux, Windows and macOS; elsewhere :func:`embree_available` is
false and the sculptor falls back to the frozen-field reference.
"""

from __future__ import annotations

import numpy as np
import torch
import trimesh


def embree_available() -> bool:
    """True when trimesh can cast rays with Embree (the `embreex` package imports)."""
    try:
        import embreex  # noqa: F401
    except ImportError:
        return False
    return True


class TemplateRaycaster:
    """First hits of rays on a closed, outward-facing template mesh, with interpolated vertex normals."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray) -> None:
        if not embree_available():
            raise RuntimeError("ray casting the template needs the 'embreex' package (pip install embreex)")
        from trimesh.ray.ray_pyembree import RayMeshIntersector

        self.mesh = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces), process=False)
        self.vertex_normals = np.asarray(self.mesh.vertex_normals)
        self.intersector = RayMeshIntersector(self.mesh)

    def cast(self, origins: torch.Tensor, directions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rays ``(R, 3)`` → ``(hit (R,) float in {0, 1}, unit normal (R, 3), zero where missed)``."""
        o = origins.detach().cpu().double().numpy()
        d = directions.detach().cpu().double().numpy()
        hit = np.zeros(len(o))
        normal = np.zeros((len(o), 3))
        if len(o):
            tri, ray, location = self.intersector.intersects_id(
                o, d, multiple_hits=False, return_locations=True
            )
            if len(ray):
                corners = self.mesh.faces[tri]
                bary = trimesh.triangles.points_to_barycentric(self.mesh.triangles[tri], location)
                n = np.einsum("rk,rkc->rc", bary, self.vertex_normals[corners])
                normal[ray] = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
                hit[ray] = 1.0
        device = origins.device
        return torch.from_numpy(hit).to(device, torch.float32), torch.from_numpy(normal).to(
            device, torch.float32
        )
