"""Pose prior and motion VAE: training data, tiny training runs, weights on disk, the shipped files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from avatarclip_studio.motion.config import MotionConfig
from avatarclip_studio.motion.dataset import (
    FEATURES,
    TrainingDataError,
    canonicalise,
    motion_training_clips,
    pose_training_set,
    sample_windows,
)
from avatarclip_studio.motion.motion_vae import load_motion_vae, motion_joints, train_motion_vae
from avatarclip_studio.motion.pose_prior import load_pose_prior, train_pose_prior
from avatarclip_studio.motion.weights import MotionWeightsError, shipped
from avatarclip_studio.pipeline.events import Cancelled, Progress, Reporter
from avatarclip_studio.utils.rotations import rot6d_to_matrix

torch.set_num_threads(1)
TINY_VAE = replace(MotionConfig(), num_frames=16, vae_latent=16, vae_layers=1, vae_heads=2, vae_ff=32)


def test_pose_training_set_mirrors_and_zeroes_the_root() -> None:
    poses = pose_training_set(np.random.default_rng(0), num_random=100)
    assert poses.shape[1:] == (24, 3) and len(poses) % 2 == 0
    assert float(poses[:, 0].abs().max()) == 0.0
    half = len(poses) // 2
    # mirrored half: the left hip of the copy is the right hip of the original, reflected
    assert torch.allclose(poses[half:, 1, 0], poses[:half, 2, 0])
    assert torch.allclose(poses[half:, 1, 1], -poses[:half, 2, 1])


def test_amass_folder_is_read_through_the_motion_loader(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    np.savez(
        tmp_path / "a_poses.npz",
        poses=rng.normal(0, 0.2, (7, 156)),
        trans=np.zeros((7, 3)),
        mocap_framerate=60.0,
    )
    np.savez(tmp_path / "shape.npz", betas=np.zeros(16))
    poses = pose_training_set(rng, 0, amass_dir=tmp_path)
    assert poses.shape == (14, 24, 3)
    with pytest.raises(TrainingDataError, match="no AMASS"):
        pose_training_set(rng, 0, amass_dir=tmp_path / "empty")


def test_windows_are_canonical_and_augmented() -> None:
    clips = motion_training_clips(30.0)
    assert len(clips) >= 40
    gen = torch.Generator().manual_seed(0)
    windows = sample_windows(clips, 8, 20, gen)
    assert windows.shape == (8, 20, FEATURES)
    first_root = rot6d_to_matrix(windows[:, 0, :6])
    # first frame faces +z (no yaw left) and starts at x = z = 0
    forward = first_root[:, :, 2]
    assert float(forward[:, 0].abs().max()) < 1e-4
    assert float(windows[:, 0, [-3, -1]].abs().max()) < 1e-5
    # canonicalising twice changes nothing
    assert torch.allclose(canonicalise(windows), windows, atol=1e-5)


def test_pose_prior_trains_saves_and_loads(tmp_path: Path) -> None:
    events: list[Progress] = []
    out = tmp_path / "prior.safetensors"
    model = train_pose_prior(
        out, steps=50, seed=0, reporter=Reporter(events.append), hidden=32, num_random=300
    )
    assert events and events[-1].step == 50 and events[-1].losses["rotation"] < events[0].losses["rotation"]
    loaded = load_pose_prior(out)
    z = torch.randn(5, model.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = model.decode(z), loaded.decode(z)
    assert a.shape == (5, 24, 3)
    assert float((a - b).abs().max()) < 0.02  # fp16 storage
    assert float(a[:, 0].abs().max()) == 0.0


def test_training_stops_when_cancelled(tmp_path: Path) -> None:
    reporter = Reporter()
    reporter.cancel()
    with pytest.raises(Cancelled):
        train_pose_prior(tmp_path / "p.safetensors", steps=5, reporter=reporter, hidden=16, num_random=10)
    assert not (tmp_path / "p.safetensors").exists()


def test_motion_vae_trains_saves_and_loads(tmp_path: Path) -> None:
    out = tmp_path / "vae.safetensors"
    events: list[Progress] = []
    model = train_motion_vae(
        out, steps=10, seed=0, reporter=Reporter(events.append), config=TINY_VAE, batch_size=4
    )
    assert events[-1].step == 10 and np.isfinite(events[-1].losses["total"])
    loaded = load_motion_vae(out)
    assert loaded.arch == model.arch
    z = torch.randn(2, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        feats = loaded.decode(z, 16)
    assert feats.shape == (2, 16, FEATURES)
    assert motion_joints(feats).shape == (2, 16, 24, 3)


def test_weights_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(MotionWeightsError, match=r"missing\.safetensors.*train pose-prior"):
        load_pose_prior(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(MotionWeightsError, match=r"junk\.safetensors"):
        load_motion_vae(tmp_path / "junk.safetensors")


def test_a_prior_file_is_not_taken_for_a_vae(tmp_path: Path) -> None:
    out = tmp_path / "prior.safetensors"
    train_pose_prior(out, steps=1, hidden=8, num_random=10)
    with pytest.raises(MotionWeightsError, match="expected 'motion_vae'"):
        load_motion_vae(out)


@pytest.mark.skipif(
    not shipped("pose_prior.safetensors").is_file(), reason="shipped pose prior not built yet"
)
def test_shipped_pose_prior_gives_varied_plausible_poses() -> None:
    prior = load_pose_prior()
    poses = prior.sample(256, torch.Generator().manual_seed(0))
    spread = poses[:, 1:22].std(dim=0).mean()
    assert 0.05 < float(spread) < 1.0  # neither collapsed to the mean nor noise
    assert float(poses.abs().max()) < np.pi + 1e-4


@pytest.mark.skipif(
    not shipped("motion_vae.safetensors").is_file(), reason="shipped motion VAE not built yet"
)
def test_shipped_motion_vae_reconstructs_a_library_action() -> None:
    vae = load_motion_vae()
    clips = motion_training_clips(30.0)
    windows = sample_windows(clips[:4], 4, vae.frames, torch.Generator().manual_seed(0), noise=0.0)
    with torch.no_grad():
        mu, _ = vae.encode(windows)
        rec = vae.decode(mu, vae.frames)
    error = (motion_joints(rec) - motion_joints(windows)).norm(dim=-1).mean()
    assert float(error) < 0.2  # metres, mean joint position error (root motion included)
