"""Retarget a parsed BVH of any skeleton onto SMPL's 24 joints.

1. Joint names are mapped with :mod:`bvh_names` (the family matching most joints wins).
2. Units are guessed from the rest skeleton's height (m, cm, mm or inches; otherwise scaled to 1.7 m).
3. The world is turned so that up is +y and the body's left (from the mapped hips/shoulders) is +x.
4. Each mapped SMPL joint takes the BVH joint's world rotation, composed with a rest alignment that turns
   SMPL's T-pose bone onto the BVH rest bone (so an A-pose rest skeleton moves an SMPL body correctly).
   Unmapped SMPL joints keep their parent's world rotation (zero local pose). Where the BVH has joints
   between two mapped ones (CMU's Neck1), the SMPL bone is swung onto the actual direction each frame.
5. The translation is the pelvis joint's displacement from its rest position (SMPL's ``trans`` meaning).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avatarclip_studio.body.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS
from avatarclip_studio.motion.io.bvh_names import map_joint_names
from avatarclip_studio.motion.io.bvh_parse import BvhData
from avatarclip_studio.motion.io.errors import MotionFileError
from avatarclip_studio.motion.io.rest_pose import DEFAULT_REST_JOINTS
from avatarclip_studio.utils.rotations import euler_to_matrix_np, matrix_to_axis_angle_np

# unit name -> metres per unit; a body 1.0-2.3 m tall picks exactly one of them
_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254}
_TALL = (1.0, 2.3)
_DEFAULT_HEIGHT = 1.7
_MIN_MAPPED = 5

# SMPL joint -> the child whose direction defines its bone, for rest alignment
_BONE_CHILD = {
    "spine1": "spine2",
    "spine2": "spine3",
    "spine3": "neck",
    "neck": "head",
    **{
        f"{s}_{a}": f"{s}_{b}"
        for s in ("left", "right")
        for a, b in (
            ("hip", "knee"),
            ("knee", "ankle"),
            ("ankle", "foot"),
            ("collar", "shoulder"),
            ("shoulder", "elbow"),
            ("elbow", "wrist"),
            ("wrist", "hand"),
        )
    },
}


@dataclass
class RetargetReport:
    """What the retargeting did, for the user to check."""

    family: str
    """Name table that matched (smpl, mixamo, cmu, biovision, daz, blender)."""
    mapping: dict[str, str]
    """SMPL joint -> BVH joint it follows."""
    unmapped_bvh: list[str] = field(default_factory=list)
    """BVH joints no SMPL joint follows (their motion is dropped)."""
    missing_smpl: list[str] = field(default_factory=list)
    """SMPL joints with no BVH counterpart (held at zero local rotation)."""
    unit: str = "m"
    """Guessed file unit: m, cm, mm, inch, or 'scaled' (scaled to a 1.7 m body)."""
    metres_per_unit: float = 1.0


def guess_units(height: float) -> tuple[str, float]:
    """File unit and metres per unit for a rest skeleton ``height`` file units tall."""
    for unit, scale in _UNITS.items():
        if _TALL[0] <= height * scale <= _TALL[1]:
            return unit, scale
    return "scaled", _DEFAULT_HEIGHT / height


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 3, 3) smallest rotations taking directions a (..., 3) to directions b (..., 3)."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    v = np.cross(a, b)
    c = (a * b).sum(-1)[..., None, None]
    zero = np.zeros(v.shape[:-1])
    k = np.stack([zero, -v[..., 2], v[..., 1], v[..., 2], zero, -v[..., 0], -v[..., 1], v[..., 0], zero], -1)
    k = k.reshape((*v.shape[:-1], 3, 3))
    near_opposite = c < -1 + 1e-9
    rot = np.eye(3) + k + (k @ k) / np.where(near_opposite, 1.0, 1.0 + c)
    # opposite directions: half a turn about any axis perpendicular to a
    helper = np.where(np.abs(a[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    perp = np.cross(a, helper)
    perp /= np.linalg.norm(perp, axis=-1, keepdims=True)
    half_turn = 2.0 * perp[..., :, None] * perp[..., None, :] - np.eye(3)
    return np.where(near_opposite, half_turn, rot)


def _world_alignment(rest: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """(3, 3) rotation from BVH world axes to ours: up -> +y, the body's left -> +x."""
    up = np.array([0.0, 1.0, 0.0])
    if JOINT_INDEX["head"] in mapping and JOINT_INDEX["pelvis"] in mapping:
        spine = rest[mapping[JOINT_INDEX["head"]]] - rest[mapping[JOINT_INDEX["pelvis"]]]
        axis = int(np.argmax(np.abs(spine)))
        up = np.eye(3)[axis] * np.sign(spine[axis])
    turn_up = _rotation_between(up, np.array([0.0, 1.0, 0.0]))
    for left, right in (("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")):
        if JOINT_INDEX[left] in mapping and JOINT_INDEX[right] in mapping:
            side = turn_up @ (rest[mapping[JOINT_INDEX[left]]] - rest[mapping[JOINT_INDEX[right]]])
            if np.hypot(side[0], side[2]) > 1e-9:
                # files face along an axis: turn about up by the multiple of 90 deg nearest to left -> +x
                yaw = np.round(np.arctan2(side[2], side[0]) / (np.pi / 2)) * (np.pi / 2)
                c, s = np.cos(yaw), np.sin(yaw)
                return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]).round(12) @ turn_up
    return turn_up


def _local_rotation(bvh: BvhData, columns: dict[str, int]) -> np.ndarray:
    """(T, 3, 3) local rotation of a BVH joint with channel ``columns``, rotations composed in file order."""
    rotations = [(name[0], column) for name, column in columns.items() if name.endswith("rotation")]
    if not rotations:
        return np.tile(np.eye(3), (len(bvh.motion), 1, 1))
    angles = np.zeros((len(bvh.motion), 3))
    angles[:, : len(rotations)] = bvh.motion[:, [column for _, column in rotations]]
    axes = "".join(axis for axis, _ in rotations)
    return euler_to_matrix_np(angles, order=axes + "".join(a for a in "XYZ" if a not in axes))


def _local_translation(bvh: BvhData, joint: int, columns: dict[str, int]) -> np.ndarray:
    """(T, 3) a joint's position in its parent: its position channels (absolute, as Blender reads them),
    its rest offset on axes without one."""
    out = np.repeat(bvh.joints[joint].offset[None], len(bvh.motion), axis=0)
    for name, column in columns.items():
        if name.endswith("position"):
            out[:, "XYZ".index(name[0])] = bvh.motion[:, column]
    return out


def _forward_kinematics(
    bvh: BvhData, world: np.ndarray, mapped: set[int]
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """World rotations (T, 3, 3) and positions (T, 3), file units in our axes, of the ``mapped`` BVH
    joints and their ancestors (fingers and props are skipped), keyed by joint index."""
    needed = set()
    for j in mapped:
        while j >= 0 and j not in needed:
            needed.add(j)
            j = bvh.joints[j].parent
    glob: dict[int, np.ndarray] = {}
    pos: dict[int, np.ndarray] = {}
    columns = bvh.channel_columns()
    for j in sorted(needed):  # file order: parents first
        parent = bvh.joints[j].parent
        local = _local_rotation(bvh, columns[j])
        offset = _local_translation(bvh, j, columns[j])
        if parent < 0:
            glob[j], pos[j] = local, offset
        else:
            glob[j] = glob[parent] @ local
            pos[j] = pos[parent] + (glob[parent] @ offset[..., None])[..., 0]
    return {j: world @ g @ world.T for j, g in glob.items()}, {j: p @ world.T for j, p in pos.items()}


def _follow(
    bvh: BvhData, world: np.ndarray, mapping: dict[int, int], target: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(T, 24, 3, 3) world rotation of each SMPL joint following the BVH (step 4 of the module doc) and
    (T, 3) displacement of the pelvis joint from its rest position (file units, our axes)."""
    glob, pos = _forward_kinematics(bvh, world, set(mapping.values()))
    rest, _ = bvh.rest_positions()
    rest = rest @ world.T
    smpl_world = np.empty((len(bvh.motion), NUM_JOINTS, 3, 3))
    align = {k: np.eye(3) for k in range(NUM_JOINTS)}
    for k in range(NUM_JOINTS):
        if k not in mapping:
            smpl_world[:, k] = smpl_world[:, PARENTS[k]]
            continue
        j = mapping[k]
        child = _BONE_CHILD.get(JOINT_NAMES[k])
        c = mapping.get(JOINT_INDEX[child]) if child is not None else None
        smpl_dir = target[JOINT_INDEX[child]] - target[k] if child is not None else None
        if c is not None and smpl_dir is not None and np.linalg.norm(rest[c] - rest[j]) > 1e-9:
            align[k] = _rotation_between(smpl_dir, rest[c] - rest[j])
        elif PARENTS[k] >= 0:
            align[k] = align[PARENTS[k]]  # a leaf keeps its parent's alignment: zero pose at rest
        smpl_world[:, k] = glob[j] @ align[k]
        if c is not None and smpl_dir is not None and bvh.joints[c].parent != j:
            # joints between j and c (CMU's Neck1) bend the bone: swing it onto the actual direction
            now = pos[c] - pos[j]
            if (np.linalg.norm(now, axis=-1) > 1e-9).all():
                smpl_world[:, k] = _rotation_between(smpl_world[:, k] @ smpl_dir, now) @ smpl_world[:, k]
    pelvis = mapping[JOINT_INDEX["pelvis"]]
    return smpl_world, pos[pelvis] - rest[pelvis]


def retarget(
    path: str | Path, bvh: BvhData, target_rest: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, RetargetReport]:
    """(T, 24, 3) SMPL poses, (T, 3) translation in metres and the report, from a parsed BVH.

    ``target_rest`` (24, 3): the SMPL body's rest joints whose bone directions the BVH rest pose is aligned
    to; default :data:`DEFAULT_REST_JOINTS`.
    """
    target = DEFAULT_REST_JOINTS if target_rest is None else target_rest
    names = [j.name for j in bvh.joints]
    family, mapping = map_joint_names(names)
    if JOINT_INDEX["pelvis"] not in mapping:
        mapping[JOINT_INDEX["pelvis"]] = 0  # the root always drives the pelvis
    if len(mapping) < _MIN_MAPPED:
        raise MotionFileError(
            path,
            f"only {len(mapping)} joint names are known (need {_MIN_MAPPED}): {', '.join(names[:30])}",
        )
    rest, ends = bvh.rest_positions()
    all_points = np.concatenate([rest, ends])
    world = _world_alignment(rest, mapping)
    height = float(np.ptp((all_points @ world.T)[:, 1]))
    if height <= 0:
        raise MotionFileError(path, "the rest skeleton has no height (all offsets are zero)")
    unit, scale = guess_units(height)

    smpl_world, displacement = _follow(bvh, world, mapping, target)
    smpl_local = np.swapaxes(smpl_world[:, [max(p, 0) for p in PARENTS]], -1, -2) @ smpl_world
    smpl_local[:, 0] = smpl_world[:, 0]
    poses = matrix_to_axis_angle_np(smpl_local)

    trans = scale * displacement
    by_index = {v: k for k, v in mapping.items()}
    report = RetargetReport(
        family=family or "none",
        mapping={JOINT_NAMES[k]: names[v] for k, v in sorted(mapping.items())},
        unmapped_bvh=[n for i, n in enumerate(names) if i not in by_index],
        missing_smpl=[JOINT_NAMES[k] for k in range(NUM_JOINTS) if k not in mapping],
        unit=unit,
        metres_per_unit=scale,
    )
    return poses, trans, report
