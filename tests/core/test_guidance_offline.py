"""The offline guidance model: data pipeline pieces, and the shipped weights following the text."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.model import BodyModel, load_body_model
from avatarclip_studio.body.skeleton import JOINT_INDEX
from avatarclip_studio.guidance.config import GuidanceConfig
from avatarclip_studio.guidance.errors import GuidanceUnavailable
from avatarclip_studio.guidance.offline.captions import COLOR_WORDS, describe
from avatarclip_studio.guidance.offline.dataset import (
    build_render_set,
    composite,
    recolor,
    render_region_maps,
    render_scenes,
)
from avatarclip_studio.guidance.offline.image_tower import ImageTower
from avatarclip_studio.guidance.offline.model import OfflineGuidance, default_weights_path, load_image_tower
from avatarclip_studio.guidance.offline.region_batches import (
    VARIANTS,
    RegionSet,
    garment_captions,
    region_batch,
)
from avatarclip_studio.guidance.offline.scenes import (
    COLORS,
    GREY_ALBEDO,
    REGIONS,
    Scene,
    pose_vector,
    sample_scene,
)
from avatarclip_studio.guidance.offline.splat import orbit_cameras, splat
from avatarclip_studio.guidance.offline.train import contrastive_loss, same_caption, train_offline_guidance
from avatarclip_studio.guidance.select import load_guidance

STANDING = Scene((0.0, 0.0, 0.0), "standing", False, "red", "black", "black", "pale", "brown", True)


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return load_body_model(BodyConfig())


@pytest.fixture(scope="module")
def guidance() -> OfflineGuidance:
    return OfflineGuidance()


def white(rgb: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    return rgb + (1 - alpha)


def test_red_shirt_prompt_prefers_the_red_shirt(guidance: OfflineGuidance, body: BodyModel) -> None:
    scenes = [STANDING, Scene(**{**STANDING.__dict__, "shirt": "blue"})]
    images = white(*render_scenes(body, scenes, 96, seed=3, front_only=True))
    text = guidance.encode_text(["a person in a red shirt", "a person in a blue shirt"])
    sims = guidance.encode_image(images) @ text.T  # rows: red render, blue render
    assert float(sims[0, 0]) > float(sims[1, 0])
    assert float(sims[1, 1]) > float(sims[0, 1])


def test_tall_and_short_are_ranked_right(guidance: OfflineGuidance, body: BodyModel) -> None:
    tall = Scene((2.2, 0.0, 0.0), "standing", False, None, None, None, None, None, True)
    short = Scene((-2.2, 0.0, 0.0), "standing", False, None, None, None, None, None, True)
    images = white(*render_scenes(body, [tall, short], 96, seed=5, front_only=True))
    text = guidance.encode_text(["a tall person", "a short person"])
    sims = guidance.encode_image(images) @ text.T
    margin = sims[:, 0] - sims[:, 1]  # how much more "tall" than "short"
    assert float(margin[0]) > float(margin[1])


def test_gradient_flows_to_pixels(guidance: OfflineGuidance) -> None:
    image = torch.rand(2, 3, 128, 128, requires_grad=True)
    loss = guidance.clip_loss(image, guidance.encode_text("a person in a red shirt")).sum()
    loss.backward()
    assert image.grad is not None
    assert float((image.grad.abs().sum(1) > 0).float().mean()) > 0.99
    assert guidance.encode_image(image.detach()).shape == (2, 384)


def test_select_offline_and_name(guidance: OfflineGuidance) -> None:
    assert "offline" in guidance.name
    chosen = load_guidance(GuidanceConfig(backend="auto", clip_model="/nonexistent/clip.pt"))
    assert "offline" in chosen.name


def test_missing_or_foreign_weights_are_named(tmp_path: Path) -> None:
    with pytest.raises(GuidanceUnavailable, match="nope.safetensors are missing"):
        load_image_tower(tmp_path / "nope.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    with pytest.raises(GuidanceUnavailable, match="bad.safetensors"):
        load_image_tower(bad)
    assert default_weights_path().is_file()


def test_captions_are_true_and_heldout_words_unseen() -> None:
    rng = np.random.default_rng(0)
    scenes = [sample_scene(rng, textured=True) for _ in range(200)]
    train_text = " ".join(describe(s, rng) for s in scenes for _ in range(3))
    for color, words in COLOR_WORDS.items():
        for word in words["heldout"]:
            assert word not in train_text, (color, word)
    red = Scene(**{**STANDING.__dict__, "shirt": "red"})
    full = describe(red, rng, full=True)
    assert any(
        f"{w} shirt" in full or f"{w} t-shirt" in full or f"{w} top" in full
        for w in COLOR_WORDS["red"]["train"]
    )
    assert "crimson" in describe(red, np.random.default_rng(1), "heldout", full=True)


def test_mirrored_pose_raises_the_other_hand(body: BodyModel) -> None:
    poses = torch.stack([pose_vector("waving", m, np.zeros((23, 3))) for m in (False, True)])
    joints = body(body_pose=poses).joints
    right, left = JOINT_INDEX["right_wrist"], JOINT_INDEX["left_wrist"]
    assert float(joints[0, right, 1]) > float(joints[0, left, 1]) + 0.3
    assert float(joints[1, left, 1]) > float(joints[1, right, 1]) + 0.3


def test_splat_covers_the_body_and_passes_colour_gradients(body: BodyModel) -> None:
    verts = body().vertices
    colors = torch.full((1, verts.shape[1], 3), 0.5, requires_grad=True)
    cams = orbit_cameras(torch.zeros(1), torch.zeros(1), torch.full((1,), 2.2), torch.zeros(1, 3))
    rgb, alpha = splat(verts, colors, cams, 64)
    coverage = float(alpha.mean())
    assert 0.05 < coverage < 0.5  # a T-posed body, not empty, not the whole frame
    rgb.sum().backward()
    assert colors.grad is not None and int((colors.grad.abs().sum(-1) > 0).sum()) > 500
    # interior of the torso has no holes
    assert float(alpha[0, 0, 20:30, 30:34].min()) == 1.0
    assert math.isclose(float(rgb.detach()[0, :, alpha[0, 0] > 0].mean()), 0.5, abs_tol=1e-5)


def test_render_set_is_seeded(body: BodyModel) -> None:
    first = build_render_set(body, 6, 48, seed=7)
    second = build_render_set(body, 6, 48, seed=7)
    assert torch.equal(first.images, second.images)
    assert first.scenes == second.scenes
    images = composite(first.images, first.masks, torch.Generator().manual_seed(0))
    assert images.shape == (6, 3, 48, 48) and float(images.min()) >= 0.0 and float(images.max()) <= 1.0


def test_contrastive_loss_prefers_matching_pairs() -> None:
    text = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    positives = same_caption(torch.arange(4))
    matched = contrastive_loss(text * 3, text, positives, torch.tensor(10.0))
    shuffled = contrastive_loss(text.roll(1, 0) * 3, text, positives, torch.tensor(10.0))
    assert float(matched) < float(shuffled)
    # image 0 looks like caption 1: cheaper when caption 1 is declared true of image 0 too
    lookalike = text.clone()
    lookalike[0] = text[1]
    also_true = positives.clone()
    also_true[0, 1] = True
    assert float(contrastive_loss(lookalike * 3, text, also_true, torch.tensor(10.0))) < float(
        contrastive_loss(lookalike * 3, text, positives, torch.tensor(10.0))
    )


def test_training_smoke_writes_loadable_weights(tmp_path: Path) -> None:
    out = tmp_path / "tower.safetensors"
    metrics = train_offline_guidance(
        out, steps=2, seed=0, renders=16, batch_size=8, cache_dir=tmp_path, region_steps=2, region_renders=4
    )
    tower = load_image_tower(out)
    assert isinstance(tower, ImageTower)
    assert math.isfinite(metrics["loss"]) and metrics["temperature"] > 0
    assert list(tmp_path.glob("renders_*.pt"))  # the render sets are cached for the next run
    assert list(tmp_path.glob("regions_*.pt"))
    tuned = tmp_path / "tuned.safetensors"
    train_offline_guidance(
        tuned,
        seed=0,
        renders=16,
        batch_size=8,
        cache_dir=tmp_path,
        region_steps=1,
        region_renders=4,
        init_weights=out,
    )
    assert not torch.equal(load_image_tower(tuned).head[2].weight, tower.head[2].weight)


def test_region_batch_changes_only_the_named_garments(body: BodyModel) -> None:
    scenes = [STANDING, Scene(**{**STANDING.__dict__, "pose": "walking", "long_sleeves": False})]
    maps, alpha = render_region_maps(body, scenes, 48, seed=3)
    assert maps.shape == (2, len(REGIONS), 48, 48)
    # recolouring is exact: all regions grey gives the grey render of the same body, camera and light
    untextured = [
        dataclasses.replace(s, shirt=None, trousers=None, shoes=None, skin=None, hair=None) for s in scenes
    ]
    grey, grey_alpha = render_scenes(body, untextured, 48, seed=3)
    palette = torch.full((2, len(REGIONS), 3), GREY_ALBEDO)
    assert torch.equal(grey_alpha, alpha)
    assert torch.allclose(recolor(maps, palette), grey, atol=1e-5)
    captions, concepts = garment_captions()
    data = RegionSet(
        (maps * 255).round().to(torch.uint8),
        alpha.to(torch.uint8),
        scenes,
        torch.tensor(concepts),
        torch.zeros(len(captions), 384),
    )
    fg, masks, caption_ids, positives = region_batch(
        data, 3, torch.Generator().manual_seed(0), np.random.default_rng(0)
    )
    assert fg.shape == (3 * VARIANTS, 3, 48, 48) and masks.shape == (3 * VARIANTS, 1, 48, 48)
    assert bool(positives.diagonal().all())
    for first in range(0, 3 * VARIANTS, VARIANTS):
        k = next(k for k in range(2) if torch.equal(masks[first], data.masks[k]))  # which render
        shirt, trousers = (maps[k, REGIONS.index(name)] > 0 for name in ("shirt", "trousers"))
        off = (alpha[k, 0] > 0) & ~shirt & ~trousers
        shirt_only, trousers_only = fg[first + 2], fg[first + 3]  # one garment coloured on a grey body
        change = (shirt_only - trousers_only).abs().amax(0)
        assert float(change[off].max()) < 1e-5  # both grey off the garments
        assert float(change[shirt & ~trousers].max()) > 0.05
        assert float(change[trousers & ~shirt].max()) > 0.05
        # the swapped pair: garments recoloured; skin, shoes and hair differ by colour jitter only
        swapped = (fg[first] - fg[first + 1]).abs().amax(0)
        assert float(swapped[off].max()) < 0.2
    # each grey-body variant is captioned with its one coloured garment: shirt, then trousers
    shown = data.caption_concepts[caption_ids]
    assert [int(c) // len(COLORS) for c in shown[2::VARIANTS]] == [0, 0, 0]
    assert [int(c) // len(COLORS) for c in shown[3::VARIANTS]] == [1, 1, 1]


def _colour_probe():
    """``benchmarks/guidance_eval.py``: the colour optimisation whose figures the benchmark reports."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "guidance_eval.py"
    spec = importlib.util.spec_from_file_location("guidance_eval", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_colour_gradients_paint_the_named_garment(guidance: OfflineGuidance, body: BodyModel) -> None:
    """Optimising a grey body's colours: "red shirt" reddens the torso more than the legs, and a
    "blue shirt" leaves a bluer torso than a "red shirt" (the gradients follow the text, locally)."""
    probe = _colour_probe()
    torch.manual_seed(0)
    red, labels = probe.optimise_colours(guidance, body, "a person in a red shirt", 40, seed=1)
    blue, _ = probe.optimise_colours(guidance, body, "a person in a blue shirt", 40, seed=1)
    shirt, legs = labels == 1, labels == 2
    assert probe.redness(red[shirt]).mean() > probe.redness(red[legs]).mean() + 0.05
    assert probe.redness(red[shirt]).mean() > probe.redness(blue[shirt]).mean() + 0.1
    # measured with the shipped weights: 0.26 vs 0.12, 0.26 vs 0.00, -0.04 vs -0.13
    assert probe.blueness(blue[shirt]).mean() > probe.blueness(red[shirt]).mean() + 0.04
