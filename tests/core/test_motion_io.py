"""Motion files other than BVH: AMASS / our .npz, SMPL .npy / .pkl, DeepMimic; resample and mirror."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from avatarclip_studio.body.skeleton import JOINT_INDEX, MIRROR_PAIRS
from avatarclip_studio.motion.io import (
    MotionClip,
    MotionFileError,
    load_motion,
    load_npz,
    load_npz_betas,
    load_smpl_pose,
    mirror,
    resample,
    save_motion,
    save_npz,
)
from avatarclip_studio.utils.rotations import axis_angle_to_matrix_np, matrix_to_axis_angle_np

DATA = Path(__file__).parents[1] / "data"


def random_clip(frames: int = 8, fps: float = 30.0, seed: int = 0) -> MotionClip:
    rng = np.random.default_rng(seed)
    aa = rng.normal(size=(frames, 24, 3))
    aa *= rng.uniform(0.05, 2.5, (frames, 24, 1)) / np.linalg.norm(aa, axis=-1, keepdims=True)
    trans = rng.normal(size=(frames, 3))
    return MotionClip(aa.astype(np.float32), trans.astype(np.float32), fps, "random")


def test_amass_npz_turns_z_up_to_y_up_and_drops_hands(tmp_path: Path) -> None:
    frames = 5
    poses = np.zeros((frames, 156))
    poses[:, 0] = np.pi / 2  # AMASS bodies stand up in z-up with +90 deg about x
    poses[:, 3 * 4] = 0.7  # left knee
    poses[:, 66:] = 0.3  # hand joints: dropped
    trans = np.tile([1.0, 2.0, 3.0], (frames, 1))
    path = tmp_path / "amass.npz"
    np.savez(path, poses=poses, trans=trans, betas=np.arange(16.0), mocap_framerate=np.array(120.0))
    clip = load_npz(path)
    assert clip.fps == 120.0 and clip.poses.shape == (frames, 24, 3)
    assert np.allclose(clip.poses[:, 0], 0.0, atol=1e-6)  # upright in y-up: no global rotation
    assert np.allclose(clip.poses[:, JOINT_INDEX["left_knee"]], [0.7, 0.0, 0.0])
    assert np.allclose(clip.poses[:, 22:], 0.0)
    assert np.allclose(clip.trans, [1.0, 3.0, -2.0])  # z up -> y up
    betas = load_npz_betas(path)
    assert betas is not None and np.allclose(betas, np.arange(16.0))


def test_our_npz_round_trip_keeps_y_up(tmp_path: Path) -> None:
    clip = random_clip()
    save_npz(tmp_path / "out.npz", clip, betas=np.ones(10))
    back = load_npz(tmp_path / "out.npz")
    assert np.allclose(back.poses, clip.poses) and np.allclose(back.trans, clip.trans)
    assert back.fps == clip.fps
    assert np.allclose(load_npz_betas(tmp_path / "out.npz"), 1.0)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == [tmp_path / "out.npz"]  # no temporary left behind


@pytest.mark.parametrize(
    ("shape", "root_zero", "frames"),
    [
        ((60, 69), True, 60),
        ((72,), False, 1),
        ((1, 69), True, 1),
        ((4, 72), False, 4),
        ((3, 24, 3), False, 3),
    ],
)
def test_smpl_npy_layouts(tmp_path: Path, shape: tuple[int, ...], root_zero: bool, frames: int) -> None:
    data = np.random.default_rng(1).normal(size=shape) * 0.3
    np.save(tmp_path / "motion.npy", data)
    clip = load_motion(tmp_path / "motion.npy")
    assert clip.num_frames == frames and clip.fps == 30.0
    flat = data.reshape(frames, -1)
    if root_zero:  # AvatarCLIP's body-only poses: joint 0 is zero, the rest shift by one
        assert np.allclose(clip.poses[:, 0], 0.0)
        assert np.allclose(clip.poses[:, 1:].reshape(frames, -1), flat, atol=1e-6)
    else:
        assert np.allclose(clip.poses.reshape(frames, -1), flat, atol=1e-6)
    assert load_motion(tmp_path / "motion.npy", fps=20).fps == 20.0


def test_smpl_pkl_aist_style_dict(tmp_path: Path) -> None:
    poses = np.random.default_rng(2).normal(size=(6, 72)) * 0.2
    doc = {"smpl_poses": poses, "smpl_trans": np.full((6, 3), 90.0), "smpl_scaling": np.array([90.0])}
    (tmp_path / "aist.pkl").write_bytes(pickle.dumps(doc, protocol=4))
    clip = load_smpl_pose(tmp_path / "aist.pkl", fps=60)
    assert clip.fps == 60 and np.allclose(clip.trans, 1.0)
    assert np.allclose(clip.poses.reshape(6, 72), poses, atol=1e-6)
    doc2 = {"global_orient": poses[:, :3], "body_pose": poses[:, 3:], "transl": np.zeros((6, 3))}
    (tmp_path / "split.pkl").write_bytes(pickle.dumps(doc2, protocol=5))
    assert np.allclose(load_motion(tmp_path / "split.pkl").poses.reshape(6, 72), poses, atol=1e-6)


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch PWNED",))


def test_hostile_pickle_is_refused_without_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"poses": _Exploit()}))
    with pytest.raises(MotionFileError, match=r"evil\.pkl.*refusing to load"):
        load_motion(tmp_path / "evil.pkl")
    assert not (tmp_path / "PWNED").exists()


def test_deepmimic_fixture_known_values() -> None:
    clip = load_motion(DATA / "deepmimic_tiny.txt")
    assert clip.fps == pytest.approx(30.0) and clip.num_frames == 3
    # DeepMimic x forward, z right -> SMPL z forward, x left: position (1, 0.9, 2) -> (-2, 0.9, 1)
    assert np.allclose(clip.trans[0], [-2.0, 0.9, 1.0])
    assert np.allclose(clip.poses[1, 0], [0.0, np.pi / 2, 0.0], atol=1e-6)  # turn about up stays about y
    # knees: DeepMimic's negative hinge angle about z (right) is SMPL's positive flexion about x
    assert np.allclose(clip.poses[:, JOINT_INDEX["right_knee"], 0], [0.0, 1.0, 2.0], atol=1e-6)
    assert np.allclose(clip.poses[:, JOINT_INDEX["left_knee"]], [0.25, 0.0, 0.0], atol=1e-6)
    # the chest is spread over three spine joints that compose back to it
    spine = [JOINT_INDEX[n] for n in ("spine1", "spine2", "spine3")]
    chain = np.eye(3)
    for j in spine:
        chain = chain @ axis_angle_to_matrix_np(clip.poses[2, j].astype(np.float64))
    assert np.allclose(matrix_to_axis_angle_np(chain), [-0.6, 0.0, 0.0], atol=1e-6)
    assert np.allclose(clip.poses[:, JOINT_INDEX["left_wrist"]], 0.0)


def test_resample_doubles_frames_and_interpolates() -> None:
    clip = random_clip(frames=5, fps=10.0)
    fast = resample(clip, 20.0)
    assert fast.num_frames == 9 and fast.fps == 20.0
    assert np.allclose(fast.poses[::2], clip.poses, atol=1e-5)  # original frames kept
    assert np.allclose(fast.trans[1], (clip.trans[0] + clip.trans[1]) / 2, atol=1e-6)
    # the midpoint rotation is half-way: equal angles to both neighbours
    r0, r1, rm = (
        axis_angle_to_matrix_np(p.astype(np.float64)) for p in (clip.poses[0], clip.poses[1], fast.poses[1])
    )
    d0 = np.linalg.norm(matrix_to_axis_angle_np(np.swapaxes(r0, 1, 2) @ rm), axis=-1)
    d1 = np.linalg.norm(matrix_to_axis_angle_np(np.swapaxes(rm, 1, 2) @ r1), axis=-1)
    assert np.allclose(d0, d1, atol=1e-5)
    slow = resample(fast, 10.0)
    assert slow.num_frames == 5 and np.allclose(slow.poses, clip.poses, atol=1e-5)


def test_mirror_swaps_sides_and_is_an_involution() -> None:
    clip = random_clip()
    m = mirror(clip)
    left, right = MIRROR_PAIRS[0]
    assert np.allclose(m.poses[:, right], clip.poses[:, left] * [1, -1, -1])
    assert np.allclose(m.trans[:, 0], -clip.trans[:, 0]) and np.allclose(m.trans[:, 1:], clip.trans[:, 1:])
    twice = mirror(m)
    assert np.allclose(twice.poses, clip.poses) and np.allclose(twice.trans, clip.trans)


def test_load_motion_resamples_files_with_their_own_rate(tmp_path: Path) -> None:
    save_npz(tmp_path / "c.npz", random_clip(frames=7, fps=30.0))
    assert load_motion(tmp_path / "c.npz", fps=15).num_frames == 4


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.npy", np.zeros((10, 50)), "not \\(T, D\\)"),
        ("nan.npy", np.full((3, 72), np.nan), "NaN"),
        ("empty.npy", np.zeros((0, 72)), "no frames"),
        ("huge.npy", np.zeros((100_001, 72), dtype=np.float16), "more than the limit"),
    ],
)
def test_bad_pose_arrays(tmp_path: Path, name: str, content: np.ndarray, message: str) -> None:
    np.save(tmp_path / name, content)
    with pytest.raises(MotionFileError, match=message) as info:
        load_motion(tmp_path / name)
    assert name in str(info.value)


def test_bad_files(tmp_path: Path) -> None:
    (tmp_path / "trunc.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(MotionFileError, match=r"trunc\.npz"):
        load_motion(tmp_path / "trunc.npz")
    with pytest.raises(MotionFileError, match="no such file"):
        load_motion(tmp_path / "missing.bvh")
    with pytest.raises(MotionFileError, match="unknown motion format"):
        load_motion(tmp_path / "clip.fbx")
    np.savez(tmp_path / "nopose.npz", trans=np.zeros((3, 3)))
    with pytest.raises(MotionFileError, match="no 'poses' array"):
        load_motion(tmp_path / "nopose.npz")
    np.savez(tmp_path / "badtrans.npz", poses=np.zeros((3, 72)), trans=np.zeros((2, 3)), fps=30.0)
    with pytest.raises(MotionFileError, match="trans has shape"):
        load_motion(tmp_path / "badtrans.npz")
    big = tmp_path / "big.bvh"
    with open(big, "wb") as fh:  # sparse: refused from its size, never read
        fh.truncate((1 << 30) + 1)
    with pytest.raises(MotionFileError, match="over 1 GiB"):
        load_motion(big)


def test_save_motion_by_extension(tmp_path: Path) -> None:
    clip = random_clip(frames=4)
    save_motion(clip, tmp_path / "m.npz", betas=np.zeros(10))
    save_motion(clip, tmp_path / "m.bvh")
    assert np.allclose(load_motion(tmp_path / "m.npz").poses, clip.poses)
    assert np.allclose(load_motion(tmp_path / "m.bvh").trans, clip.trans, atol=1e-5)
    with pytest.raises(ValueError, match=r"\.fbx"):
        save_motion(clip, tmp_path / "m.fbx")
