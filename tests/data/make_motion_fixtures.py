"""Fixtures of tests/core/test_motion_io*.py; rebuild: ``python tests/data/make_motion_fixtures.py``.

- ``mixamo_apose_cm.bvh``: Mixamo names (``mixamorig:``), centimetres, A-pose rest (arms 45 deg down),
  ZXY channels, one extra unmapped thumb joint, 6 frames of random motion.
- ``cmu_inches_facing_back.bvh``: CMU names (LowerBack, LHipJoint, Neck1), inches, facing -z, ZYX channels.
- ``deepmimic_tiny.txt``: 3 frames in pybullet's DeepMimic JSON layout with hand-picked values.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent

# name, parent, offset (metres, y up, facing +z, left = +x)
_BODY = [
    ("Hips", None, (0.0, 1.0, 0.0)),
    ("Spine", "Hips", (0.0, 0.1, 0.0)),
    ("Spine1", "Spine", (0.0, 0.12, 0.0)),
    ("Spine2", "Spine1", (0.0, 0.12, 0.0)),
    ("Neck", "Spine2", (0.0, 0.15, 0.0)),
    ("Head", "Neck", (0.0, 0.1, 0.02)),
    ("LeftShoulder", "Spine2", (0.05, 0.1, 0.0)),
    ("LeftArm", "LeftShoulder", (0.1, 0.0, 0.0)),
    ("LeftForeArm", "LeftArm", (0.19, -0.19, 0.0)),  # A-pose: 45 degrees down
    ("LeftHand", "LeftForeArm", (0.18, -0.18, 0.0)),
    ("LeftHandThumb1", "LeftHand", (0.02, -0.03, 0.02)),
    ("RightShoulder", "Spine2", (-0.05, 0.1, 0.0)),
    ("RightArm", "RightShoulder", (-0.1, 0.0, 0.0)),
    ("RightForeArm", "RightArm", (-0.19, -0.19, 0.0)),
    ("RightHand", "RightForeArm", (-0.18, -0.18, 0.0)),
    ("LeftUpLeg", "Hips", (0.09, -0.05, 0.0)),
    ("LeftLeg", "LeftUpLeg", (0.0, -0.42, 0.0)),
    ("LeftFoot", "LeftLeg", (0.0, -0.42, 0.0)),
    ("LeftToeBase", "LeftFoot", (0.0, -0.06, 0.12)),
    ("RightUpLeg", "Hips", (-0.09, -0.05, 0.0)),
    ("RightLeg", "RightUpLeg", (0.0, -0.42, 0.0)),
    ("RightFoot", "RightLeg", (0.0, -0.42, 0.0)),
    ("RightToeBase", "RightFoot", (0.0, -0.06, 0.12)),
]

_CMU_RENAME = {"Spine": "LowerBack", "Spine1": "Spine", "Spine2": "Spine1", "Neck": "Neck"}


def write_bvh(
    path: Path, skeleton: list, scale: float, order: str, motion: np.ndarray, prefix: str = ""
) -> None:
    children: dict[str | None, list[int]] = {}
    for i, (_, parent, _) in enumerate(skeleton):
        children.setdefault(parent, []).append(i)
    lines = ["HIERARCHY"]
    rot = " ".join(f"{a}rotation" for a in order)

    def joint(i: int, depth: int) -> None:
        name, parent, offset = skeleton[i]
        pad = "\t" * depth
        lines.append(f"{pad}{'ROOT' if parent is None else 'JOINT'} {prefix}{name}")
        lines.append(pad + "{")
        lines.append(f"{pad}\tOFFSET {' '.join(f'{v * scale:.5f}' for v in offset)}")
        lines.append(
            f"{pad}\tCHANNELS {'6 Xposition Yposition Zposition ' + rot if parent is None else '3 ' + rot}"
        )
        for c in children.get(name, []):
            joint(c, depth + 1)
        if name not in children:
            lines.extend(
                [f"{pad}\tEnd Site", pad + "\t{", f"{pad}\t\tOFFSET 0 {-0.05 * scale:.5f} 0", pad + "\t}"]
            )
        lines.append(pad + "}")

    joint(0, 0)
    lines.extend(["MOTION", f"Frames: {len(motion)}", "Frame Time: 0.0333333"])
    lines.extend(" ".join(f"{v:.5f}" for v in row) for row in motion)
    path.write_text("\n".join(lines) + "\n")


def random_motion(rng: np.random.Generator, joints: int, scale: float, frames: int = 6) -> np.ndarray:
    root = np.array([0.0, 1.0, 0.0]) + rng.normal(0, 0.1, (frames, 3))
    angles = rng.uniform(-40, 40, (frames, joints * 3))
    return np.concatenate([root * scale, angles], axis=1)


def main() -> None:
    rng = np.random.default_rng(7)
    write_bvh(
        HERE / "mixamo_apose_cm.bvh", _BODY, 100.0, "ZXY", random_motion(rng, len(_BODY), 100.0), "mixamorig:"
    )

    cmu = []
    for name, parent, offset in _BODY:
        if name == "LeftHandThumb1":
            continue
        rename = _CMU_RENAME.get
        cmu.append((rename(name, name), rename(parent, parent) if parent else None, offset))
    # CMU's extra joints: a hip joint between Hips and the thigh, a second neck joint
    cmu.insert(1, ("LHipJoint", "Hips", (0.0, 0.0, 0.0)))
    cmu = [(n, "LHipJoint" if n == "LeftUpLeg" else p, o) for n, p, o in cmu]
    cmu.insert(6, ("Neck1", "Neck", (0.0, 0.05, 0.0)))
    cmu = [(n, "Neck1" if n == "Head" else p, (0.0, 0.05, 0.02) if n == "Head" else o) for n, p, o in cmu]
    facing_back = np.diag([-1.0, 1.0, -1.0])  # 180 degrees about y
    cmu = [(n, p, tuple(facing_back @ np.array(o))) for n, p, o in cmu]
    inch = 1 / 0.0254
    write_bvh(HERE / "cmu_inches_facing_back.bvh", cmu, inch, "ZYX", random_motion(rng, len(cmu), inch))

    # DeepMimic: frame = dt, root pos, root quat, chest, neck, r_hip, r_knee, r_ankle, r_shoulder, r_elbow,
    # l_hip, l_knee, l_ankle, l_shoulder, l_elbow
    ident = [1.0, 0.0, 0.0, 0.0]
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    frames = []
    for i in range(3):
        root_quat = [c, 0.0, s, 0.0] if i == 1 else ident  # frame 1: 90 degrees about up
        chest = (
            [np.cos(0.3), 0.0, 0.0, np.sin(0.3)] if i == 2 else ident
        )  # frame 2: 0.6 rad about DM z (lean)
        frame = [1 / 30, 1.0, 0.9, 2.0 + i, *root_quat, *chest, *ident]
        frame += [*ident, -1.0 * i, *ident, *ident, 0.5]  # right hip, knee, ankle, shoulder, elbow
        frame += [*ident, -0.25, *ident, *ident, 0.0]  # left side
        frames.append([float(v) for v in frame])
    (HERE / "deepmimic_tiny.txt").write_text(json.dumps({"Loop": "wrap", "Frames": frames}))


if __name__ == "__main__":
    main()
