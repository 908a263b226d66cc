"""Faults seen from the command line: a killed ``generate`` resumes, missing pieces give one clear line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from test_faults_pipeline import CONFIG

from avatarclip_studio.cli.main import main
from avatarclip_studio.config import dump_config
from avatarclip_studio.pipeline.run_dir import RunDir, RunError

GENERATE = ["generate", "--shape", "a tall person", "--appearance", "a person in a red shirt"]


def generate(folder: Path, config: Path) -> subprocess.Popen[str]:
    args = [*GENERATE, "--out", str(folder), "--preset", "tiny", "--config", str(config), "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "avatarclip_studio", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def test_a_killed_generate_resumes_from_its_checkpoints(tmp_path):
    config, folder = tmp_path / "micro.toml", tmp_path / "run"
    dump_config(CONFIG, config)
    process = generate(folder, config)
    opened = 0
    deadline = time.monotonic() + 300
    while not (folder / "checkpoints" / "sculpt").exists():  # killed once a sculpt checkpoint exists
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline
        if (folder / "manifest.json").exists():
            RunDir.open(folder)  # readable at any moment
            opened += 1
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = RunDir.open(folder).manifest.stages
    assert before["shape"]["status"] == before["neus_init"]["status"] == "done"

    process = generate(folder, config)
    while process.poll() is None:
        RunDir.open(folder)
        opened += 1
        time.sleep(0.05)
    log = process.communicate()[0]
    assert process.returncode == 0, log
    assert "[shape] already done" in log and "[neus_init] already done" in log
    assert "[sculpt] resumed at step" in log or "[sculpt] started" in log
    after = RunDir.open(folder).manifest
    assert after.stages["shape"] == before["shape"]  # not redone
    assert all(after.stages[s]["status"] == "done" for s in ("sculpt", "mesh", "export"))
    assert (folder / "avatar.glb").stat().st_size > 0
    assert not [p for p in folder.rglob("*") if ".part" in p.name]
    assert opened > 10


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_device_cuda_without_cuda_is_one_clear_line(tmp_path, capsys):
    assert main([*GENERATE, "--out", str(tmp_path / "run"), "--preset", "tiny", "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--device cpu" in err and "Traceback" not in err


def test_app_without_a_display_is_one_clear_line_suggesting_demo(monkeypatch, capsys):
    for key in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main(["app"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "DISPLAY" in err and "avatarclip-studio demo" in err


def test_a_damaged_run_folder_is_one_clear_line(tmp_path, capsys):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"prompts": [1, 2]}')
    with pytest.raises(RunError):
        RunDir.open(folder)
    assert main(["animate", "--avatar", str(folder), "--motion", "waving", "--preset", "tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "manifest.json" in err and "prompts" in err


def test_ctrl_c_stops_after_the_step_and_the_rerun_resumes_there(tmp_path):
    from dataclasses import replace

    from avatarclip_studio.config import preset

    tiny = preset("tiny")  # its template fit (60 steps) keeps a surface through 20 sculpt steps
    config, folder = tmp_path / "tiny.toml", tmp_path / "run"
    dump_config(replace(tiny, sculpt=replace(tiny.sculpt, steps=20, checkpoint_every=1000)), config)
    process = generate(folder, config)
    deadline = time.monotonic() + 300
    while not (folder / "losses.jsonl").exists() or "sculpt" not in (folder / "losses.jsonl").read_text():
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    log = process.communicate(timeout=120)[0]
    assert process.returncode == 130, log
    assert "stopping after this step" in log and "Traceback" not in log
    stages = RunDir.open(folder).manifest.stages
    assert stages["sculpt"]["status"] == "cancelled"
    stopped_at = torch.load(folder / "checkpoints" / "sculpt" / "sculpt.pt", weights_only=True)["step"]
    assert 1 <= stopped_at < 20  # checkpointed on the way out, although checkpoint_every is 1000

    process = generate(folder, config)
    log = process.communicate(timeout=300)[0]
    assert process.returncode == 0, log
    assert f"[sculpt] resumed at step {stopped_at}" in log
