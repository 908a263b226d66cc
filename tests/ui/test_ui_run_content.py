"""Reading what a run folder holds for the app, including half-finished and damaged runs; the ETA text."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from fake_pipeline import write_run

from avatarclip_studio.config import StudioConfig
from avatarclip_studio.pipeline.run_dir import RunDir
from avatarclip_studio.ui.run_content import load_run_content, unfinished_stages
from avatarclip_studio.ui.status import format_eta

PROMPTS = {"shape": "a tall person", "appearance": "a firefighter"}


def test_finished_run_gives_avatar_and_motion(tmp_path):
    content = load_run_content(write_run(tmp_path / "run", PROMPTS))
    assert content.avatar is not None and content.clip is not None and content.clip.num_frames == 24
    assert content.mesh is None and not content.problems


def test_without_avatar_the_sculpted_mesh_is_shown_with_its_colours(tmp_path):
    run = RunDir.create(tmp_path / "run", StudioConfig(), PROMPTS)
    sphere = trimesh.creation.icosphere(subdivisions=1)
    sphere.visual.vertex_colors = np.tile([255, 0, 0, 255], (len(sphere.vertices), 1))
    sphere.export(run.file("mesh.ply"))
    content = load_run_content(run)
    assert content.mesh is not None and len(content.mesh.vertices) == 42
    np.testing.assert_allclose(content.mesh.colors[0], [1.0, 0.0, 0.0])


def test_first_stage_only_shows_the_body_shape(tmp_path):
    run = RunDir.create(tmp_path / "run", StudioConfig(), PROMPTS)
    box = trimesh.creation.box()
    np.savez(run.file("shape.npz"), vertices=box.vertices, faces=box.faces)
    run.stage_started("neus_init")
    content = load_run_content(run)
    assert content.mesh is not None and content.mesh.faces.shape == (12, 3)
    assert unfinished_stages(run) == ["neus_init"]


def test_damaged_files_are_reported_not_raised(tmp_path):
    run = write_run(tmp_path / "run", PROMPTS)
    run.file("avatar.npz").write_bytes(b"not a zip")
    run.file("motion.npz").write_bytes(b"")
    content = load_run_content(run)
    assert content.avatar is None and content.clip is None and content.empty
    assert len(content.problems) == 2
    assert "avatar.npz" in content.problems[0] and "motion.npz" in content.problems[1]


def test_format_eta():
    assert [format_eta(s) for s in (None, float("nan"), 42.4, 185, 3725)] == [
        "–",
        "–",
        "42s",
        "3m 05s",
        "1h 02m",
    ]


def test_scene_switching_between_mesh_and_avatar_bumps_both_revisions():
    from fake_pipeline import snapshot_mesh, stick_avatar

    from avatarclip_studio.ui.scene import ViewportScene

    scene = ViewportScene()
    snap = snapshot_mesh(1)
    scene.set_mesh(snap.vertices, snap.faces)
    revisions = (scene.mesh_revision, scene.avatar_revision)
    scene.set_avatar(stick_avatar())
    assert scene.mesh is None and scene.mesh_revision > revisions[0] and scene.avatar_revision > revisions[1]
    scene.set_mesh(snap.vertices, snap.faces)
    assert scene.avatar is None and scene.avatar_revision == revisions[1] + 2
    assert scene.floor_y == pytest.approx(float(snap.vertices[:, 1].min()))
