"""BVH round trip, retargeting other skeletons and mirroring (checked by forward kinematics), bad files."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from avatarclip_studio.body.skeleton import JOINT_INDEX, MIRROR_PAIRS, PARENTS
from avatarclip_studio.motion.io import (
    DEFAULT_REST_JOINTS,
    MotionClip,
    MotionFileError,
    bvh_text,
    load_bvh,
    mirror,
    save_bvh,
)
from avatarclip_studio.motion.io.bvh_parse import BvhData, read_bvh
from avatarclip_studio.utils.rotations import axis_angle_to_matrix_np

DATA = Path(__file__).parents[1] / "data"
_COUNTER = itertools.count()


def smpl_fk(clip: MotionClip, rest: np.ndarray = DEFAULT_REST_JOINTS) -> np.ndarray:
    """(T, 24, 3) joint positions of a rest skeleton posed by ``clip``."""
    rot = axis_angle_to_matrix_np(clip.poses.astype(np.float64))
    world = np.zeros_like(rot)
    pos = np.zeros((clip.num_frames, 24, 3))
    for k, p in enumerate(PARENTS):
        if p < 0:
            world[:, k], pos[:, k] = rot[:, k], rest[0] + clip.trans
        else:
            world[:, k] = world[:, p] @ rot[:, k]
            pos[:, k] = pos[:, p] + world[:, p] @ (rest[k] - rest[p])
    return pos


def bvh_fk(bvh: BvhData) -> np.ndarray:
    """(T, J, 3) joint positions, file units, with scipy's intrinsic Euler rotations."""
    frames = len(bvh.motion)
    world = np.zeros((frames, len(bvh.joints), 3, 3))
    pos = np.zeros((frames, len(bvh.joints), 3))
    for j, (joint, columns) in enumerate(zip(bvh.joints, bvh.channel_columns(), strict=True)):
        rot_names = [c for c in joint.channels if c.endswith("rotation")]
        local = Rotation.from_euler(
            "".join(c[0] for c in rot_names), bvh.motion[:, [columns[c] for c in rot_names]], degrees=True
        ).as_matrix()
        if joint.parent < 0:
            world[:, j] = local
            pos[:, j] = bvh.motion[:, [columns[f"{a}position"] for a in "XYZ"]]
        else:
            world[:, j] = world[:, joint.parent] @ local
            pos[:, j] = pos[:, joint.parent] + world[:, joint.parent] @ joint.offset
    return pos


def test_bvh_round_trip_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    aa = rng.normal(size=(12, 24, 3))
    aa *= rng.uniform(0.0, 3.0, (12, 24, 1)) / np.linalg.norm(aa, axis=-1, keepdims=True)
    clip = MotionClip(aa.astype(np.float32), rng.normal(size=(12, 3)).astype(np.float32), 30.0)
    save_bvh(tmp_path / "c.bvh", clip)
    back, report = load_bvh(tmp_path / "c.bvh")
    assert report.family == "smpl" and report.unmapped_bvh == [] and report.missing_smpl == []
    assert report.unit == "cm"
    assert back.fps == 30.0 and back.num_frames == 12
    assert np.abs(back.poses - clip.poses).max() < 1e-4
    assert np.abs(back.trans - clip.trans).max() < 1e-5


def test_bvh_round_trip_with_custom_rest(tmp_path: Path) -> None:
    rest = DEFAULT_REST_JOINTS * 1.1 + np.random.default_rng(1).normal(0, 0.01, (24, 3))
    clip = MotionClip(np.full((3, 24, 3), 0.2, np.float32), np.zeros((3, 3), np.float32), 24.0)
    save_bvh(tmp_path / "c.bvh", clip, rest_joints=rest)
    back, _ = load_bvh(tmp_path / "c.bvh", rest_joints=rest)
    assert np.abs(back.poses - clip.poses).max() < 1e-4
    assert np.allclose(smpl_fk(back, rest), smpl_fk(clip, rest), atol=1e-5)


def test_bvh_text_header_and_channels() -> None:
    text = bvh_text(MotionClip(np.zeros((2, 24, 3), np.float32), np.zeros((2, 3), np.float32), 25.0))
    assert text.startswith("HIERARCHY\nROOT pelvis")
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in text
    assert text.count("CHANNELS 3 Zrotation Xrotation Yrotation") == 23
    assert "Frames: 2\nFrame Time: 0.04000000" in text


@pytest.mark.parametrize(
    ("name", "family", "unit", "world"),
    [
        ("mixamo_apose_cm.bvh", "mixamo", "cm", np.eye(3)),
        ("cmu_inches_facing_back.bvh", "cmu", "inch", np.diag([-1.0, 1.0, -1.0])),
    ],
)
def test_retargeted_bones_point_where_the_bvh_bones_point(
    name: str, family: str, unit: str, world: np.ndarray
) -> None:
    clip, report = load_bvh(DATA / name)
    assert report.family == family and report.unit == unit
    bvh = read_bvh(DATA / name)
    names = [j.name for j in bvh.joints]
    bvh_pos = bvh_fk(bvh) @ world.T
    smpl_pos = smpl_fk(clip)
    checked = 0
    for child, smpl_parent in enumerate(PARENTS):
        parent_name = [k for k, v in JOINT_INDEX.items() if v == smpl_parent]
        child_name = [k for k, v in JOINT_INDEX.items() if v == child]
        if smpl_parent < 0 or parent_name[0] not in report.mapping or child_name[0] not in report.mapping:
            continue
        if parent_name[0] in ("pelvis", "spine3"):  # branching joints: their bones are not aligned
            continue
        bvh_bone = (
            bvh_pos[:, names.index(report.mapping[child_name[0]])]
            - bvh_pos[:, names.index(report.mapping[parent_name[0]])]
        )
        smpl_bone = smpl_pos[:, child] - smpl_pos[:, smpl_parent]
        cos = (
            (bvh_bone * smpl_bone).sum(-1)
            / np.linalg.norm(bvh_bone, axis=-1)
            / np.linalg.norm(smpl_bone, axis=-1)
        )
        assert cos.min() > 1 - 1e-6, (name, parent_name, child_name)
        checked += 1
    assert checked >= 14
    # translation: displacement of the root from its rest position, in metres
    root = bvh_pos[:, 0] * report.metres_per_unit
    assert np.allclose(clip.trans, root - root[0] + clip.trans[0], atol=1e-5)
    assert np.abs(clip.trans).max() < 0.5


def test_retarget_report_lists_unmapped_joints() -> None:
    _, report = load_bvh(DATA / "cmu_inches_facing_back.bvh")
    assert report.unmapped_bvh == ["LHipJoint", "Neck1"]
    assert report.missing_smpl == ["left_hand", "right_hand"]
    assert report.mapping["left_collar"] == "LeftShoulder" and report.mapping["left_shoulder"] == "LeftArm"
    _, mixamo = load_bvh(DATA / "mixamo_apose_cm.bvh")
    assert mixamo.unmapped_bvh == ["mixamorig:LeftHandThumb1"]


def _fixture_text() -> str:
    return (DATA / "mixamo_apose_cm.bvh").read_text()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t[: len(t) // 2], "file ends early|expected"),
        (lambda t: t[: t.rindex("\n", 0, len(t) - 2)] + "\n", "motion has .* numbers"),
        (lambda t: t.replace("Frames: 6", "Frames: 200000"), "more than the limit"),
        (lambda t: t.replace("Frames: 6", "Frames: -1"), "no frames"),
        (lambda t: t.replace("CHANNELS 3", "CHANNELS 9", 1), "channels"),
        (lambda t: t.replace("Zrotation", "Qrotation", 1), "unknown channel"),
        (lambda t: t.replace("{", "", 3), "expected '{'"),
        (lambda t: t.replace("Frame Time: 0.0333333", "Frame Time: 0"), "frame time"),
        (lambda t: t.rstrip() + " 1\n", "motion has"),
        (lambda t: t.rstrip().rsplit(" ", 1)[0] + " nan\n", "NaN"),
        (lambda t: t.rstrip().rsplit(" ", 1)[0] + " 1.0x\n", "not a number"),
        (lambda t: re.sub(r"(JOINT|ROOT) \S+", r"\1 bone", t), "appears twice"),
        (
            lambda t: re.sub(r"(JOINT|ROOT) (\S+)", lambda m: f"{m[1]} b{next(_COUNTER)}", t),
            "joint names",
        ),
        (lambda t: t.replace("HIERARCHY", "HIERARCH"), "HIERARCHY"),
        (lambda t: t.replace("mixamorig:Spine1", "mixamorig:Spine"), "appears twice"),
    ],
)
def test_broken_bvh_files(tmp_path: Path, mutate: object, message: str) -> None:
    path = tmp_path / "broken.bvh"
    path.write_text(mutate(_fixture_text()))  # type: ignore[operator]
    with pytest.raises(MotionFileError, match=message) as info:
        load_bvh(path)
    assert "broken.bvh" in str(info.value)


def test_mirror_reflects_joint_positions() -> None:
    rng = np.random.default_rng(3)
    clip = MotionClip(
        (rng.normal(size=(4, 24, 3)) * 0.5).astype(np.float32),
        rng.normal(size=(4, 3)).astype(np.float32),
        30.0,
    )
    reflect = np.array([-1.0, 1.0, 1.0])
    swap = np.arange(24)
    for left, right in MIRROR_PAIRS:
        swap[[left, right]] = [right, left]
    expected = (smpl_fk(clip) * reflect)[:, swap]  # the rest skeleton is left/right symmetric
    assert np.allclose(smpl_fk(mirror(clip)), expected, atol=1e-5)


def test_hips_under_a_static_root_joint(tmp_path: Path) -> None:
    text = _fixture_text()
    start, motion = text.index("ROOT"), text.index("MOTION")
    wrapped = (
        text[:start]
        + "ROOT Reference\n{\n\tOFFSET 0 0 0\n\tCHANNELS 0\n"
        + text[start:motion].replace("ROOT", "JOINT", 1)
        + "}\n"
        + text[motion:]
    )
    (tmp_path / "wrapped.bvh").write_text(wrapped)
    clip, report = load_bvh(tmp_path / "wrapped.bvh")
    plain, _ = load_bvh(DATA / "mixamo_apose_cm.bvh")
    assert report.mapping["pelvis"] == "mixamorig:Hips" and "Reference" in report.unmapped_bvh
    assert np.allclose(clip.poses, plain.poses, atol=1e-6) and np.allclose(clip.trans, plain.trans, atol=1e-6)
