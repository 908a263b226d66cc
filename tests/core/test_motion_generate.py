"""Text → candidate poses → animation, with a random-weights guidance (runs, gradients flow, resumes)
and, when the shipped offline guidance exists, that the motion follows the text."""

from __future__ import annotations

import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.model import BodyModel, load_body_model
from avatarclip_studio.body.skeleton import JOINT_INDEX as J
from avatarclip_studio.device import select_compute
from avatarclip_studio.guidance.base import MOTION_TEMPLATE, Guidance
from avatarclip_studio.guidance.config import GuidanceConfig
from avatarclip_studio.guidance.select import load_guidance
from avatarclip_studio.motion.actions import action_clip
from avatarclip_studio.motion.animate import candidate_loss, generate_motion
from avatarclip_studio.motion.candidates import find_candidates, pose_distance
from avatarclip_studio.motion.codebook import PoseCodebook, build_codebook
from avatarclip_studio.motion.config import MotionConfig
from avatarclip_studio.motion.motion_vae import MotionVAE, features_to_matrices
from avatarclip_studio.motion.pose_prior import PosePrior, load_pose_prior
from avatarclip_studio.paths import resource_path
from avatarclip_studio.pipeline.events import Cancelled, MeshSnapshot, Progress, Reporter
from avatarclip_studio.utils.rotations import axis_angle_to_matrix, matrix_to_axis_angle

torch.set_num_threads(1)
COMPUTE = select_compute("cpu", "fp32")
CONFIG = replace(
    MotionConfig(),
    pose_codebook_size=24,
    num_frames=12,
    optimise_steps=6,
    top_k_text=10,
    num_candidates=3,
    checkpoint_every=2,
    snapshot_every=3,
    clip_frames=2,
    clip_every=1,
)


class RandomGuidance(Guidance):
    """A random-weights text–image model: it encodes, and gradients flow, but it means nothing."""

    name = "random test guidance"
    input_size = 32

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 5, stride=4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(16))
        self.net(torch.zeros(1, 3, 32, 32))

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def _encode_texts(self, texts: list[str]) -> torch.Tensor:
        gens = [torch.Generator().manual_seed(zlib.crc32(t.encode())) for t in texts]
        return torch.stack([torch.randn(16, generator=g) for g in gens])

    def _encode_pixels(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


def silhouettes(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """A stand-in view renderer: front and side orthographic occupancy images (N, 2, 32, 32, 3)."""
    out = np.zeros((len(vertices), 2, 32, 32, 3), dtype=np.uint8)
    for view, axis in enumerate((0, 2)):
        u = np.clip(((vertices[..., axis] + 1.0) * 16).astype(int), 0, 31)
        v = np.clip(((1.0 - vertices[..., 1]) * 16).astype(int), 0, 31)
        for n in range(len(vertices)):
            out[n, view, v[n], u[n]] = 255
    return out


def splat(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """A stand-in differentiable renderer: soft Gaussian splats of a vertex subset, (B, 3, 24, 24)."""
    pts = vertices[:, ::40, :2]
    grid = torch.stack(
        torch.meshgrid(torch.linspace(-1, 1, 24), torch.linspace(1, -1, 24), indexing="xy"), -1
    )
    d2 = (grid.reshape(1, -1, 1, 2) - pts[:, None]).pow(2).sum(-1)
    img = torch.exp(-d2 / 0.002).sum(-1).clamp(max=1.0).reshape(-1, 1, 24, 24)
    return img.expand(-1, 3, -1, -1)


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return load_body_model(BodyConfig())


@pytest.fixture(scope="module")
def models() -> tuple[PosePrior, MotionVAE]:
    torch.manual_seed(0)
    return PosePrior(32, 32).eval(), MotionVAE(frames=12, latent=16, layers=1, heads=2, ff=32).eval()


@pytest.fixture(scope="module")
def guidance() -> RandomGuidance:
    return RandomGuidance()


def test_codebook_is_built_once_then_read_from_the_cache(
    tmp_path: Path, body: BodyModel, models: tuple[PosePrior, MotionVAE], guidance: RandomGuidance
) -> None:
    prior, _ = models
    calls: list[int] = []

    def render(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
        calls.append(len(vertices))
        return silhouettes(vertices, faces)

    book = build_codebook(guidance, body, prior, CONFIG, COMPUTE, render_views=render, root=tmp_path)
    assert book.poses.shape == (24, 24, 3) and book.features.shape == (24, 16)
    assert torch.allclose(book.features.norm(dim=-1), torch.ones(24), atol=1e-4)
    assert sum(calls) == 24
    again = build_codebook(guidance, body, prior, CONFIG, COMPUTE, render_views=render, root=tmp_path)
    assert sum(calls) == 24  # no new renders
    assert torch.equal(again.features, book.features)
    cached = list((tmp_path / "motion_codebook").glob("random-test-guidance-*.safetensors"))
    assert len(cached) == 1
    retrained = RandomGuidance()  # same name, other weights: the cached features are stale
    with torch.no_grad():
        for p in retrained.net.parameters():
            p.add_(0.1)
    rebuilt = build_codebook(retrained, body, prior, CONFIG, COMPUTE, render_views=render, root=tmp_path)
    assert sum(calls) == 48 and not torch.allclose(rebuilt.features, book.features)
    build_codebook(retrained, body, prior, CONFIG, COMPUTE, render_views=render, root=tmp_path)
    assert sum(calls) == 48  # and the rebuilt one is cached in its place


def test_candidates_drop_near_duplicates(guidance: RandomGuidance) -> None:
    text = guidance.encode_text("a rendered 3d man is waving")[0]
    rng = np.random.default_rng(0)
    base = torch.as_tensor(rng.normal(0, 0.4, (4, 24, 3)), dtype=torch.float32)
    base[:, 0] = 0
    # pose 0 and a near copy of it (mean |Δθ| 0.01) score highest; then 3 distinct ones
    near = base[0] + 0.01
    poses = torch.stack([base[0], near, base[1], base[2], base[3]])
    other = torch.as_tensor(rng.normal(0, 1, 16), dtype=torch.float32)
    other = torch.nn.functional.normalize(other - (other @ text) * text, dim=0)  # orthogonal to the text
    cosines = torch.tensor([1.0, 0.99, 0.9, 0.8, 0.1])
    features = cosines[:, None] * text + (1 - cosines**2).sqrt()[:, None] * other
    book = PoseCodebook(poses=poses, features=features, guidance_name="x")
    found = find_candidates("waving", guidance, book, replace(CONFIG, num_candidates=3, top_k_text=5))
    assert [c.index for c in found] == [0, 2, 3]
    assert found[0].score > found[1].score > found[2].score
    assert float(pose_distance(near[None], base[:1])) == pytest.approx(0.01, abs=1e-5)


def test_candidate_loss_is_zero_when_each_candidate_appears() -> None:
    rng = np.random.default_rng(1)
    motion = axis_angle_to_matrix(torch.as_tensor(rng.normal(0, 0.3, (10, 24, 3)), dtype=torch.float32))
    cands = motion[[7, 2]]
    weights = torch.tensor([1.0, 0.8])
    assert float(candidate_loss(motion, cands, weights)) < 1e-10
    assert float(candidate_loss(motion[:5], cands, weights)) > 0.01  # frame 7 cut off


def test_generate_motion_runs_reports_and_gradients_flow(
    tmp_path: Path, body: BodyModel, models: tuple[PosePrior, MotionVAE], guidance: RandomGuidance
) -> None:
    prior, vae = models
    events: list[object] = []
    config = replace(CONFIG, lambda_clip=1.0)
    clip, candidates = generate_motion(
        "waving",
        guidance,
        body,
        config,
        COMPUTE,
        Reporter(events.append),
        prior=prior,
        vae=vae,
        codebook=build_codebook(
            guidance, body, prior, config, COMPUTE, render_views=silhouettes, root=tmp_path
        ),
        render_frames=splat,
    )
    assert clip.poses.shape == (12, 24, 3) and clip.trans.shape == (12, 3) and clip.fps == 30.0
    assert len(candidates) == 3
    progress = [e for e in events if isinstance(e, Progress) and e.stage == "motion" and e.losses]
    assert [p.step for p in progress] == list(range(1, 7))
    assert {"candidates", "clip", "motion", "latent", "total"} <= set(progress[-1].losses)
    assert progress[-1].losses["clip"] > 0
    assert any(isinstance(e, MeshSnapshot) for e in events)
    # the VAE stays frozen: only the latent is optimised
    assert all(p.grad is None for p in vae.parameters())


def test_guidance_gradient_reaches_the_latent(body: BodyModel, models: tuple[PosePrior, MotionVAE]) -> None:
    _, vae = models
    guidance = RandomGuidance()
    z = torch.zeros(16, requires_grad=True)
    rot, _ = features_to_matrices(vae.decode(z[None], 12))
    poses = matrix_to_axis_angle(rot[0, -2:])
    verts = body(body_pose=poses[:, 1:].reshape(2, -1), global_orient=poses[:, 0]).vertices
    loss = guidance.clip_loss(splat(verts, body.faces), guidance.encode_text("jumping")).sum()
    loss.backward()
    assert z.grad is not None and float(z.grad.abs().sum()) > 0


def test_resume_continues_from_the_checkpoint(
    tmp_path: Path, body: BodyModel, models: tuple[PosePrior, MotionVAE], guidance: RandomGuidance
) -> None:
    prior, vae = models
    book = build_codebook(guidance, body, prior, CONFIG, COMPUTE, render_views=silhouettes, root=tmp_path)
    config = replace(CONFIG, lambda_clip=0.0)
    ckpt = tmp_path / "motion_state.pt"
    full, _ = generate_motion(
        "squatting", guidance, body, config, COMPUTE, prior=prior, vae=vae, codebook=book
    )

    stopped: list[int] = []
    reporter = Reporter()

    def stop_after_four(event: object) -> None:
        if isinstance(event, Progress) and event.step == 4:
            stopped.append(4)
            reporter.cancel()

    reporter.add_listener(stop_after_four)
    with pytest.raises(Cancelled):
        generate_motion(
            "squatting",
            guidance,
            body,
            config,
            COMPUTE,
            reporter,
            prior=prior,
            vae=vae,
            codebook=book,
            checkpoint=ckpt,
        )
    assert stopped and ckpt.is_file()
    steps: list[int] = []
    resumed, _ = generate_motion(
        "squatting",
        guidance,
        body,
        config,
        COMPUTE,
        Reporter(lambda e: steps.append(e.step) if isinstance(e, Progress) and e.losses else None),
        prior=prior,
        vae=vae,
        codebook=book,
        checkpoint=ckpt,
    )
    assert steps == [5, 6]
    assert np.allclose(resumed.poses, full.poses, atol=1e-5)


OFFLINE_WEIGHTS = resource_path("guidance", "offline_image_tower.safetensors")
OFFLINE_CONFIG = replace(MotionConfig(), pose_codebook_size=256, optimise_steps=150, lambda_clip=0.0)


@pytest.fixture(scope="module")
def offline() -> tuple[Guidance, PoseCodebook]:
    """The shipped offline guidance and a 256-pose code-book of the shipped prior (built once, cached)."""
    if not OFFLINE_WEIGHTS.is_file():
        pytest.skip(
            f"needs the shipped offline guidance weights ({OFFLINE_WEIGHTS}); "
            "train them with `avatarclip-studio train guidance`"
        )
    guidance = load_guidance(replace(GuidanceConfig(), backend="offline"), COMPUTE.device)
    body = load_body_model(BodyConfig())
    return guidance, build_codebook(guidance, body, load_pose_prior(), OFFLINE_CONFIG, COMPUTE)


@pytest.mark.parametrize("text", ["raising both arms", "squatting"])
def test_motion_follows_the_text_with_the_offline_guidance(
    text: str, body: BodyModel, offline: tuple[Guidance, PoseCodebook]
) -> None:
    guidance, book = offline
    clip, _ = generate_motion(text, guidance, body, OFFLINE_CONFIG, COMPUTE, codebook=book)
    poses = torch.as_tensor(clip.poses)
    with torch.no_grad():
        joints = body(body_pose=poses[:, 1:].reshape(len(poses), -1), global_orient=poses[:, 0]).joints
    if text == "raising both arms":
        head = joints[:, J["head"], 1]
        assert bool(((joints[:, J["left_wrist"], 1] > head) & (joints[:, J["right_wrist"], 1] > head)).any())
    else:
        # the pelvis comes down toward the feet (standing: ≈ 0.82 m above the ankles)
        feet = joints[:, [J["left_ankle"], J["right_ankle"]], 1].min(dim=1).values
        assert float((joints[:, J["pelvis"], 1] - feet).min()) < 0.65


@pytest.mark.skipif(
    not resource_path("motion", "motion_vae.safetensors").is_file(), reason="shipped motion VAE not built"
)
@pytest.mark.parametrize("action", ["raise both arms", "squat"])
def test_the_animation_reaches_its_candidate_pose(
    action: str, body: BodyModel, guidance: RandomGuidance
) -> None:
    """Whatever the guidance, the optimised motion must pass through the top candidate: the shipped VAE
    can express it and the optimisation finds it."""
    target = action_clip(action)
    key = torch.as_tensor(target.poses[len(target.poses) * 2 // 3])  # held key pose of the action
    key[0] = 0.0
    rng = np.random.default_rng(0)
    others = torch.as_tensor(rng.normal(0, 0.3, (7, 24, 3)), dtype=torch.float32)
    others[:, 0] = 0.0
    text = guidance.encode_text(MOTION_TEMPLATE.format(action))[0]
    features = torch.nn.functional.normalize(
        torch.as_tensor(rng.normal(0, 1, (8, 16)), dtype=torch.float32), dim=-1
    )
    features[0] = text
    book = PoseCodebook(poses=torch.cat([key[None], others]), features=features, guidance_name="x")
    config = replace(MotionConfig(), num_candidates=1, optimise_steps=120, lambda_clip=0.0, num_frames=60)
    clip, candidates = generate_motion(action, guidance, body, config, COMPUTE, codebook=book)
    assert candidates[0].index == 0
    poses = torch.as_tensor(clip.poses)
    with torch.no_grad():
        joints = body(body_pose=poses[:, 1:].reshape(len(poses), -1), global_orient=poses[:, 0]).joints
    if action == "raise both arms":
        wrists = joints[:, [J["left_wrist"], J["right_wrist"]], 1].min(dim=1).values
        assert float((wrists - joints[:, J["head"], 1]).max()) > 0.05
    else:
        feet = joints[:, [J["left_ankle"], J["right_ankle"]], 1].min(dim=1).values
        assert float((joints[:, J["pelvis"], 1] - feet).min()) < 0.55  # standing: ≈ 0.82
