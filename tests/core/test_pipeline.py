"""The whole chain, text → shape → NeuS → sculpt → mesh → motion → export, on the tiny preset."""

import json

import numpy as np
import pytest

from avatarclip_studio.avatar.skinned import SkinnedAvatar
from avatarclip_studio.config import preset
from avatarclip_studio.motion.io import load_motion
from avatarclip_studio.pipeline.events import MeshSnapshot, Progress, Reporter
from avatarclip_studio.pipeline.run_dir import RunDir
from avatarclip_studio.pipeline.runner import animate_run, run_pipeline

PROMPTS = {"shape": "a tall person", "appearance": "a person in a red shirt", "motion": "raising both arms"}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    events = []
    out = tmp_path_factory.mktemp("run") / "avatar"
    run = run_pipeline(out, preset("tiny"), PROMPTS, Reporter(events.append), export_formats=["glb", "bvh"])
    return run, events


def test_every_stage_finishes_and_is_recorded(finished_run):
    run, _ = finished_run
    manifest = json.loads(run.file("manifest.json").read_text())
    for stage in ("shape", "neus_init", "sculpt", "mesh", "motion", "export"):
        assert manifest["stages"][stage]["status"] == "done", stage
    assert manifest["prompts"] == PROMPTS
    assert manifest["guidance"] and manifest["device"].startswith(("cpu", "cuda"))
    for name in ("avatar.npz", "mesh.ply", "motion.npz", "avatar.glb", "motion.bvh"):
        assert run.file(name).stat().st_size > 0, name
    assert not list(run.path.rglob("*.part*")), "a temporary file was left behind"


def test_the_avatar_is_a_body_sized_skinned_mesh(finished_run):
    run, _ = finished_run
    avatar = SkinnedAvatar.load(str(run.file("avatar.npz")))
    height = avatar.vertices[:, 1].max() - avatar.vertices[:, 1].min()
    assert 1.2 < height < 2.3
    np.testing.assert_allclose(avatar.skin_weights.sum(1), 1.0, atol=1e-4)
    motion = load_motion(run.file("motion.npz"))
    assert motion.num_frames == preset("tiny").motion.num_frames


def test_progress_and_snapshots_are_streamed(finished_run):
    _, events = finished_run
    stages = {e.stage for e in events if isinstance(e, Progress) and e.total > 0}
    assert {"neus_init", "sculpt", "motion"} <= stages
    assert any(isinstance(e, MeshSnapshot) for e in events)


def test_running_again_resumes_without_redoing_work(finished_run):
    run, _ = finished_run
    before = {p.name: p.stat().st_mtime_ns for p in run.path.glob("*.npz")}
    events = []
    run_pipeline(run.path, preset("tiny"), PROMPTS, Reporter(events.append))
    after = {p.name: p.stat().st_mtime_ns for p in run.path.glob("*.npz")}
    assert before == after
    assert sum("already done" in e.message for e in events if isinstance(e, Progress)) == 5


def test_other_prompts_in_the_same_folder_are_refused(finished_run):
    run, _ = finished_run
    with pytest.raises(ValueError, match="other prompts"):
        run_pipeline(run.path, preset("tiny"), {**PROMPTS, "appearance": "a knight"}, Reporter())


def test_animate_with_a_motion_file(finished_run, tmp_path):
    run, _ = finished_run
    animated = animate_run(run.path, preset("tiny"), Reporter(), motion_file=run.file("motion.bvh"))
    assert RunDir.open(animated.path).manifest.stages["motion"]["status"] == "done"
    assert load_motion(run.file("motion.npz")).num_frames == preset("tiny").motion.num_frames


def test_every_step_s_losses_are_logged_and_read_back(finished_run, tmp_path):
    from avatarclip_studio.pipeline.loss_log import LOSS_LOG, LossLog, read_loss_log

    run, _ = finished_run
    sculpt = read_loss_log(run.file(LOSS_LOG))
    assert [e.step for e in sculpt] == list(range(1, preset("tiny").sculpt.steps + 1))
    assert {"rec", "eikonal", "mask", "clip_textured", "clip_grey", "total"} <= sculpt[0].losses.keys()
    assert read_loss_log(run.file(LOSS_LOG), prefer="motion")[0].stage == "motion"
    # a resumed run logs some steps twice, a kill cuts a line, a person edits the file: all read
    log = tmp_path / LOSS_LOG
    writer = LossLog(log)
    for step in (1, 2, 3, 2, 3, 4):
        writer(Progress("sculpt", step, 4, {"total": float(step), "odd": float("nan")}))
    log.write_text(log.read_text() + '[1, 2]\n{"stage": "sculpt", "step": true}\n{"stage": "scu\n')
    events = read_loss_log(log)
    assert [e.step for e in events] == [1, 2, 3, 4] and events[0].losses == {"total": 1.0}
    assert read_loss_log(tmp_path / "missing.jsonl") == []


def test_a_loss_log_that_cannot_be_written_turns_itself_off(tmp_path):
    from avatarclip_studio.pipeline.loss_log import LossLog

    writer = LossLog(tmp_path / "no such folder" / "losses.jsonl")
    writer(Progress("sculpt", 1, 4, {"total": 1.0}))  # no exception: the run goes on
    assert not writer.enabled
