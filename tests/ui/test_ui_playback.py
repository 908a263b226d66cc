"""The playback model (no Qt): clock, speed, loop, and the pose it gives the avatar."""

from __future__ import annotations

import numpy as np
import pytest
from fake_pipeline import stick_avatar, wave_clip

from avatarclip_studio.ui.playback import PlaybackModel


@pytest.fixture
def model() -> PlaybackModel:
    m = PlaybackModel()
    m.set_content(stick_avatar(), wave_clip(frames=24, fps=24.0))
    return m


def test_tick_advances_by_fps_times_speed(model):
    model.toggle()
    assert model.playing
    model.tick(0.5)  # 12 frames at 24 fps
    assert model.frame == 12
    model.speed = 0.25
    model.tick(0.5)  # 3 more
    assert model.frame == 15
    model.speed = 2.0
    model.tick(0.25)  # 12 more, wraps to 3
    assert model.frame == 3


def test_without_loop_playback_stops_on_the_last_frame(model):
    model.loop = False
    model.toggle()
    model.tick(10.0)
    assert model.frame == 23
    assert not model.playing
    model.toggle()  # playing again from the end restarts
    assert model.frame == 0 and model.playing


def test_step_wraps_when_looping_and_clamps_otherwise(model):
    model.step(-1)
    assert model.frame == 23
    model.loop = False
    model.step(5)
    assert model.frame == 23
    model.set_frame(-4)
    assert model.frame == 0


def test_speed_outside_range_is_refused(model):
    with pytest.raises(ValueError, match="speed"):
        model.speed = 3.0


def test_listeners_hear_each_frame_change_once(model):
    heard: list[int] = []
    model.add_listener(heard.append)
    model.set_frame(5)
    model.set_frame(5)
    model.step(1)
    assert heard == [5, 6]


def test_pose_moves_the_bound_part_with_its_joint(model):
    avatar = model.avatar
    arm = avatar.skin_weights[:, 16] == 1.0  # boxes bound to the left shoulder
    rest = model.posed_vertices(0)
    frame = 6  # a quarter period: the arm is raised most
    posed = model.posed_vertices(frame)
    moved = np.linalg.norm(posed - rest, axis=1)
    assert moved[arm].max() > 0.1
    # a rigidly bound vertex keeps its distance to its joint
    joints = model.posed_joints(frame)
    d_rest = np.linalg.norm(avatar.vertices[arm] - avatar.joints[16], axis=1)
    d_posed = np.linalg.norm(posed[arm] - joints[16], axis=1)
    np.testing.assert_allclose(d_posed, d_rest, atol=1e-5)


def test_nothing_to_pose_without_motion():
    m = PlaybackModel()
    m.set_content(stick_avatar(), None)
    assert not m.can_pose and m.num_frames == 0
    m.toggle()
    assert not m.playing
    with pytest.raises(ValueError, match="nothing to pose"):
        m.joint_transforms()
