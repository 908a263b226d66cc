"""export_run, mesh files, videos (with a stand-in renderer), importers, and failure without debris."""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from imageio_ffmpeg import count_frames_and_secs
from PIL import Image

from avatarclip_studio.avatar.skinning import make_skinned_avatar, pose_avatar
from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.model import load_body_model
from avatarclip_studio.config import StudioConfig, dump_config
from avatarclip_studio.export.checks import ExportError, check_mesh
from avatarclip_studio.export.config import ExportConfig
from avatarclip_studio.export.exporter import export_run
from avatarclip_studio.export.importers import import_avatar_mesh, import_motion, load_pose
from avatarclip_studio.export.mesh import read_mesh, write_mesh
from avatarclip_studio.export.video import write_video
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.io import load_bvh, load_npz, save_npz
from avatarclip_studio.utils.atomic import OutputError

SIZE = (64, 48)
CONFIG = ExportConfig(video_size=SIZE, video_fps=10.0, turntable_seconds=0.5)


def splat(vertices, faces, colors, azimuth, elevation, distance, target):
    """A stand-in renderer: vertex colours splatted orthographically, turned by the azimuth."""
    a = np.radians(azimuth)
    p = vertices - target
    x = p[:, 0] * np.cos(a) + p[:, 2] * np.sin(a)
    w, h = SIZE
    scale = h / (distance * 0.8)
    col = np.clip((x * scale + w / 2).astype(int), 0, w - 1)
    row = np.clip((h / 2 - p[:, 1] * scale).astype(int), 0, h - 1)
    image = np.full((h, w, 3), 255, np.uint8)
    image[row, col] = (colors * 255).astype(np.uint8)
    return image


@contextlib.contextmanager
def splat_renderer(size):
    assert size == SIZE
    yield splat


@pytest.fixture(scope="module")
def body():
    return load_body_model(BodyConfig())


@pytest.fixture(scope="module")
def avatar(body):
    rest = body.rest(None)[0][0].numpy()
    colors = np.tile([[0.8, 0.3, 0.2]], (len(rest), 1)).astype(np.float32)
    return make_skinned_avatar(rest, body.faces.numpy(), colors, body, np.zeros(body.num_betas, np.float32))


@pytest.fixture
def motion():
    rng = np.random.default_rng(2)
    return MotionClip(rng.normal(0, 0.2, (6, 24, 3)).astype(np.float32), np.zeros((6, 3), np.float32), 10.0)


@pytest.fixture
def run(tmp_path, avatar, motion):
    folder = tmp_path / "run"
    folder.mkdir()
    avatar.save(str(folder / "avatar.npz"))
    save_npz(folder / "motion.npz", motion)
    return folder


def test_export_run_writes_every_format(run, tmp_path, avatar, motion):
    out = tmp_path / "out"
    formats = ["glb", "bvh", "npz", "ply", "obj", "png", "gif", "mp4"]
    written = export_run(run, formats, out_dir=out, config=CONFIG, renderer=splat_renderer)
    names = [p.name for p in written]
    assert names == [
        "avatar.glb",
        "motion.bvh",
        "motion.npz",
        "avatar.ply",
        "avatar.obj",
        "avatar.png",
        "animation.gif",
        "animation.mp4",
    ]
    assert sorted(os.listdir(out)) == sorted(names)  # and nothing else (no temporaries)
    vertices, _, colors = read_mesh(out / "avatar.ply")
    np.testing.assert_allclose(vertices, avatar.vertices, atol=1e-6)
    np.testing.assert_allclose(colors, avatar.colors, atol=1 / 255)
    np.testing.assert_allclose(load_npz(out / "motion.npz").poses, motion.poses, atol=1e-6)
    clip, _ = load_bvh(out / "motion.bvh")
    assert clip.num_frames == motion.num_frames
    png = np.asarray(Image.open(out / "avatar.png"))
    assert png.shape == (48, 64, 3) and (png != 255).any()
    gif = iio.imread(out / "animation.gif", index=None)
    assert gif.shape[0] == motion.num_frames
    frames, seconds = count_frames_and_secs(str(out / "animation.mp4"))
    assert frames == motion.num_frames and seconds == pytest.approx(motion.duration, abs=0.05)


def test_the_run_config_sets_the_export_settings(run, tmp_path):
    dump_config(replace(StudioConfig(), export=CONFIG), run / "config.toml")
    [png] = export_run(run, ["png"], out_dir=tmp_path / "out", renderer=splat_renderer)  # asserts SIZE
    assert Image.open(png).size == SIZE


def test_without_a_motion_videos_are_turntables_and_motion_formats_fail(run, tmp_path):
    (run / "motion.npz").unlink()
    out = tmp_path / "out"
    [gif] = export_run(run, ["gif"], out_dir=out, config=CONFIG, renderer=splat_renderer)
    frames = iio.imread(gif, index=None)
    assert gif.name == "turntable.gif" and frames.shape[0] == 5
    assert not np.array_equal(frames[0], frames[2])  # it turns
    with pytest.raises(ExportError, match="animate the avatar first"):
        export_run(run, ["bvh"], out_dir=out, config=CONFIG)


def test_bad_requests_are_clear_errors(run, tmp_path):
    with pytest.raises(ExportError, match="unknown export format"):
        export_run(run, ["fbx"])
    with pytest.raises(ExportError, match="not a run folder"):
        export_run(tmp_path / "nowhere", ["glb"])
    (run / "avatar.npz").unlink()
    with pytest.raises(ExportError, match=r"avatar\.npz: missing"):
        export_run(run, ["glb"])


def test_oversized_inputs_are_refused_before_writing(run, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ExportError, match="more than the 100 allowed"):
        export_run(run, ["glb"], out_dir=out, config=ExportConfig(max_vertices=100))
    with pytest.raises(ExportError, match="frames is more than"):
        export_run(run, ["glb"], out_dir=out, config=ExportConfig(max_frames=3))
    assert not out.exists() or os.listdir(out) == []


def test_an_output_folder_that_cannot_be_made_is_a_clear_error(run, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(OutputError, match="cannot write"):
        export_run(run, ["glb"], out_dir=tmp_path / "file" / "out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_folder_is_a_clear_error_and_leaves_nothing(run, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="cannot write"):
            export_run(run, ["ply"], out_dir=locked)
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o700)


def test_a_failure_mid_write_keeps_the_old_file_and_leaves_no_partial(tmp_path):
    target = tmp_path / "clip.gif"
    write_video(target, [np.zeros((8, 8, 3), np.uint8)], fps=5)
    before = target.read_bytes()

    def frames():
        yield np.full((8, 8, 3), 255, np.uint8)
        raise RuntimeError("renderer died")

    for name in ("clip.gif", "clip.mp4"):
        with pytest.raises(RuntimeError, match="renderer died"):
            write_video(tmp_path / name, frames(), fps=5)
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["clip.gif"]


def test_mesh_checks():
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    with pytest.raises(ExportError, match="no vertices"):
        check_mesh(np.zeros((0, 3)), np.zeros((0, 3), int))
    with pytest.raises(ExportError, match="outside"):
        check_mesh(square, np.array([[0, 1, 9]]))
    with pytest.raises(ExportError, match="NaN"):
        check_mesh(square * np.nan, np.array([[0, 1, 2]]))
    fan = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]])  # edge 0-1 in three triangles
    with pytest.raises(ExportError, match="non-manifold, 1 edges"):
        check_mesh(square, fan)
    check_mesh(square, fan[:2])


def test_obj_round_trip_keeps_colours(tmp_path):
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    colors = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    write_mesh(tmp_path / "t.obj", vertices, np.array([[0, 1, 2]]), colors)
    _, f, c = read_mesh(tmp_path / "t.obj")
    np.testing.assert_allclose(c, colors, atol=1 / 255)
    assert f.tolist() == [[0, 1, 2]]
    with pytest.raises(ExportError, match=r"not a readable mesh|holds no triangle"):
        (tmp_path / "junk.ply").write_bytes(b"ply\nformat nonsense\n")
        read_mesh(tmp_path / "junk.ply")


def test_import_an_original_avatarclip_avatar_in_its_stand_pose(tmp_path, body):
    stand = np.zeros(69, np.float32)
    stand[3 * 15 + 2] = -0.9  # left shoulder (joint 16) down
    stand[3 * 16 + 2] = 0.9  # right shoulder (joint 17) down
    np.save(tmp_path / "stand_pose.npy", stand)
    pose = load_pose(tmp_path / "stand_pose.npy")
    assert pose.shape == (24, 3) and pose[16, 2] == pytest.approx(-0.9)
    posed = body(None, body_pose=torch.as_tensor(stand)[None]).vertices[0].numpy()
    write_mesh(tmp_path / "avatar.ply", posed, body.faces.numpy(), np.full_like(posed, 0.25))
    avatar = import_avatar_mesh(tmp_path / "avatar.ply", body, pose=tmp_path / "stand_pose.npy")
    rest = body.rest(None)[0][0].numpy()
    np.testing.assert_allclose(avatar.vertices, rest, atol=1e-4)
    np.testing.assert_allclose(pose_avatar(avatar, pose), posed, atol=1e-4)
    np.testing.assert_allclose(avatar.colors, 0.25, atol=1 / 255)
    with pytest.raises(ExportError, match="24 joints"):
        import_avatar_mesh(tmp_path / "avatar.ply", body, pose=np.zeros(10))


def test_import_avatarclip_motion_npy(tmp_path):
    np.save(tmp_path / "motion.npy", np.zeros((60, 69), np.float32))
    clip = import_motion(tmp_path / "motion.npy")
    assert clip.poses.shape == (60, 24, 3) and clip.fps == 30
    with pytest.raises(ExportError, match="frames is more than"):
        import_motion(tmp_path / "motion.npy", max_frames=10)


def test_missing_mesh_file_is_named(tmp_path, body):
    with pytest.raises(ExportError, match="no such mesh file"):
        import_avatar_mesh(Path(tmp_path / "gone.ply"), body)
