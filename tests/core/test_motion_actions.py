"""The procedural action library, checked with the body model's forward kinematics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.model import BodyModel, load_body_model
from avatarclip_studio.body.skeleton import JOINT_INDEX as J
from avatarclip_studio.motion.actions import (
    ACTION_NAMES,
    ACTIONS,
    UnknownActionError,
    action_clip,
    get_action,
)
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.io import mirror
from avatarclip_studio.motion.joint_limits import EULER_LIMITS, random_poses
from avatarclip_studio.motion.keyframes import KeyAction, render_action
from avatarclip_studio.motion.kinematics import (
    REST_JOINTS,
    REST_SOLE_HEIGHT,
    ground,
    joint_positions,
    sole_height,
)
from avatarclip_studio.utils.rotations import axis_angle_to_matrix

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return load_body_model(BodyConfig())


def _pose(body: BodyModel, clip: MotionClip) -> tuple[torch.Tensor, torch.Tensor]:
    """Vertices (T, V, 3) and joints (T, 24, 3) of a clip, every third frame (keeps the test fast)."""
    poses = torch.as_tensor(clip.poses[::3])
    with torch.no_grad():
        out = body(
            body_pose=poses[:, 1:].reshape(len(poses), -1),
            global_orient=poses[:, 0],
            transl=torch.as_tensor(clip.trans[::3]),
        )
    return out.vertices, out.joints


@pytest.fixture(scope="module")
def floor(body: BodyModel) -> float:
    vertices, _ = body.rest()
    return float(vertices[0, :, 1].min())


def test_library_has_twenty_plus_distinct_actions() -> None:
    assert len(ACTIONS) >= 20
    assert len(set(ACTION_NAMES)) == len(ACTIONS)
    for required in (
        "walk",
        "run",
        "jump",
        "wave",
        "raise both arms",
        "squat",
        "kick",
        "sit down",
        "bow",
        "nod",
    ):
        assert required in ACTION_NAMES


def test_rest_joints_match_the_shipped_body(body: BodyModel) -> None:
    _, joints = body.rest()
    assert np.abs(joints[0].numpy() - REST_JOINTS).max() < 0.005


def test_skeleton_fk_agrees_with_the_body_model(body: BodyModel) -> None:
    clip = action_clip("throw")
    _, joints = _pose(body, clip)
    ours = joint_positions(torch.as_tensor(clip.poses[::3]), torch.as_tensor(clip.trans[::3]))
    assert float((ours - joints).abs().max()) < 0.01


def test_raise_both_arms_puts_both_wrists_above_the_head(body: BodyModel) -> None:
    _, joints = _pose(body, action_clip("raise both arms"))
    head = joints[-1, J["head"], 1]
    assert float(joints[-1, J["left_wrist"], 1] - head) > 0.15
    assert float(joints[-1, J["right_wrist"], 1] - head) > 0.15
    # and at the start they hang at the sides
    assert float(joints[0, J["left_wrist"], 1]) < float(joints[0, J["spine2"], 1])


def test_raise_left_arm_raises_only_the_left(body: BodyModel) -> None:
    _, joints = _pose(body, action_clip("raise left arm"))
    head = joints[-1, J["head"], 1]
    assert float(joints[-1, J["left_wrist"], 1]) > float(head)
    assert float(joints[-1, J["right_wrist"], 1]) < float(head) - 0.4


def test_squat_lowers_the_pelvis_and_keeps_feet_on_the_floor(body: BodyModel, floor: float) -> None:
    vertices, joints = _pose(body, action_clip("squat"))
    pelvis = joints[:, J["pelvis"], 1]
    assert float(pelvis[0] - pelvis.min()) > 0.3
    assert float(pelvis[-1] - pelvis.min()) > 0.3  # and stands up again
    lowest = vertices[..., 1].amin(dim=1) - floor
    assert float(lowest.abs().max()) < 0.03


def test_walk_moves_forward_with_alternating_legs(body: BodyModel) -> None:
    clip = action_clip("walk")
    assert float(clip.trans[-1, 2] - clip.trans[0, 2]) > 2.5  # 1.2 m/s for 3.3 s
    _, joints = _pose(body, clip)
    stride = joints[:, J["left_ankle"], 2] - joints[:, J["right_ankle"], 2]
    assert float(stride.max()) > 0.3 and float(stride.min()) < -0.3


def test_jump_leaves_the_ground(body: BodyModel, floor: float) -> None:
    vertices, _ = _pose(body, action_clip("jump"))
    assert float(vertices[..., 1].amin(dim=1).max() - floor) > 0.25


def test_turn_around_ends_facing_back() -> None:
    clip = action_clip("turn around")
    root = torch.as_tensor(clip.poses[-1:, 0])
    forward = axis_angle_to_matrix(root)[0, :, 2]
    assert float(forward[2]) < -0.95


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_every_action_is_grounded_smooth_and_collision_free(
    action: KeyAction, body: BodyModel, floor: float
) -> None:
    clip = render_action(action)
    assert clip.num_frames >= 60
    vertices, joints = _pose(body, clip)
    # feet never sink more than 3 cm into the floor
    assert float((vertices[..., 1].amin(dim=1) - floor).min()) > -0.03
    # wrists never inside the torso: a capsule from the pelvis to the neck, radius 9 cm
    a, b = joints[:, J["pelvis"]], joints[:, J["neck"]]
    for wrist in ("left_wrist", "right_wrist"):
        p = joints[:, J[wrist]]
        t = (((p - a) * (b - a)).sum(-1) / (b - a).pow(2).sum(-1)).clamp(0, 1)
        dist = (p - (a + t[:, None] * (b - a))).norm(dim=-1)
        assert float(dist.min()) > 0.09, wrist
    # no pops: joint rotations change by less than 0.6 rad per frame at 30 fps
    assert float(np.abs(np.diff(clip.poses[:, 1:], axis=0)).max()) < 0.6


def test_aliases_and_unknown_names() -> None:
    assert get_action("Waving  Hello").name == "wave"
    with pytest.raises(UnknownActionError, match="the library has"):
        get_action("moonwalk backwards")


def test_mirrored_wave_uses_the_other_hand(body: BodyModel) -> None:
    _, joints = _pose(body, mirror(action_clip("wave")))
    assert float(joints[-1, J["left_wrist"], 1]) > float(joints[-1, J["head"], 1])


def test_random_poses_respect_joint_limits() -> None:
    poses = random_poses(500, np.random.default_rng(0))
    assert poses.shape == (500, 24, 3) and np.isfinite(poses).all()
    knee = Rotation.from_rotvec(poses[:, J["left_knee"]]).as_euler("xyz", degrees=True)
    lo, hi = EULER_LIMITS["left_knee"]
    assert (knee[:, 0] >= lo[0] - 1e-3).all() and (knee[:, 0] <= hi[0] + 1e-3).all()
    assert knee[:, 0].max() > 60  # and they do use the range
    assert np.abs(poses[:, 0]).max() == 0.0


def test_ground_puts_a_sinking_clip_on_the_floor_and_keeps_jumps() -> None:
    clip = action_clip("jump")
    poses, trans = torch.as_tensor(clip.poses), torch.as_tensor(clip.trans)
    sunk = trans - torch.tensor([0.0, 0.3, 0.0])
    fixed = ground(poses, sunk)
    assert torch.allclose(fixed, trans, atol=1e-5)
    flat = trans.clone()
    flat[:, 1] = -0.5  # every frame sunk by a different amount
    soles = sole_height(poses) + ground(poses, flat)[:, 1]
    assert float((soles - REST_SOLE_HEIGHT).min()) > -1e-5
