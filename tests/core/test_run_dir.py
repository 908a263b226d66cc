import json

import pytest

from avatarclip_studio.config import preset
from avatarclip_studio.pipeline.run_dir import RunDir, RunError


def test_manifest_records_prompts_config_versions_and_stages(tmp_path):
    run = RunDir.create(
        tmp_path / "run", preset("tiny"), {"shape": "a tall person", "appearance": "a firefighter"}
    )
    started = run.stage_started("shape")
    run.stage_finished("shape", started, steps=3)
    run.add_output("mesh", run.file("mesh.ply"))
    data = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert data["prompts"]["appearance"] == "a firefighter"
    assert data["config"]["neus"]["sdf_width"] == preset("tiny").neus.sdf_width
    assert data["stages"]["shape"]["status"] == "done" and data["stages"]["shape"]["steps"] == 3
    assert data["outputs"]["mesh"] == "mesh.ply"
    assert "torch" in data["versions"]
    reopened = RunDir.open(tmp_path / "run")
    assert reopened.stage_done("shape") and reopened.config() == preset("tiny")


def test_opening_something_that_is_not_a_run(tmp_path):
    with pytest.raises(RunError, match="not a run folder"):
        RunDir.open(tmp_path)
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(RunError, match="unreadable manifest"):
        RunDir.open(tmp_path)
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(RunError, match="JSON object"):
        RunDir.open(tmp_path)
