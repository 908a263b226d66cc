"""Real CLIP loading and encoding, on a tiny randomly initialised CLIP of the real architecture."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from clip.model import CLIP

from avatarclip_studio.guidance import clip_model
from avatarclip_studio.guidance.base import PromptError
from avatarclip_studio.guidance.clip_model import ClipGuidance, checkpoint_file_name, find_checkpoint
from avatarclip_studio.guidance.config import GuidanceConfig
from avatarclip_studio.guidance.errors import GuidanceUnavailable, PromptTruncatedWarning
from avatarclip_studio.guidance.select import load_guidance


def tiny_clip() -> CLIP:
    torch.manual_seed(0)
    return CLIP(
        embed_dim=32,
        image_resolution=32,
        vision_layers=1,
        vision_width=64,
        vision_patch_size=16,
        context_length=77,
        vocab_size=49408,
        transformer_width=64,
        transformer_heads=1,
        transformer_layers=1,
    ).eval()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CLIP]:
    model = tiny_clip()
    path = tmp_path_factory.mktemp("clip") / "tiny-clip.pt"
    torch.save(model.state_dict(), path)
    return path, model


@pytest.fixture(scope="module")
def guidance(checkpoint: tuple[Path, CLIP]) -> ClipGuidance:
    return ClipGuidance(str(checkpoint[0]))


def test_official_file_names_match_the_clip_package() -> None:
    assert checkpoint_file_name("ViT-B/32") == "ViT-B-32.pt"
    assert checkpoint_file_name("ViT-B/16") == "ViT-B-16.pt"
    assert checkpoint_file_name("ViT-L/14") == "ViT-L-14.pt"
    with pytest.raises(GuidanceUnavailable, match="unknown CLIP model"):
        checkpoint_file_name("ViT-X/99")


def test_round_trip_gives_the_same_features(checkpoint: tuple[Path, CLIP], guidance: ClipGuidance) -> None:
    _, model = checkpoint
    images = torch.rand(2, 3, 32, 32)
    mean = torch.tensor(clip_model.CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(clip_model.CLIP_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = torch.nn.functional.normalize(model.encode_image((images - mean) / std), dim=-1)
        got = guidance.encode_image(images)
    assert got.shape == (2, 32)
    # the same function, though the patch convolution is a matrix product and the attention kernel chosen
    assert isinstance(guidance.model.visual.conv1, clip_model.LinearPatchEmbedding)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert guidance.input_size == 32
    assert "tiny-clip.pt" in guidance.name


def test_bf16_weights_give_what_bf16_autocast_gives(checkpoint: tuple[Path, CLIP], guidance: ClipGuidance):
    """A bf16 run keeps CLIP's matmul weights in bf16 (no cast of every weight on every call): the same
    features and image gradients as float32 weights under bf16 autocast; layer norms stay float32."""
    kept = ClipGuidance(str(checkpoint[0]), dtype=torch.bfloat16)
    assert kept.model.visual.conv1.weight.dtype == torch.bfloat16
    assert kept.model.visual.transformer.resblocks[0].attn.in_proj_weight.dtype == torch.bfloat16
    assert kept.model.visual.ln_post.weight.dtype == torch.float32
    text = guidance.encode_text("a person in a red shirt")
    images = torch.rand(2, 3, 32, 32)

    def loss_and_gradient(g: ClipGuidance) -> tuple[torch.Tensor, torch.Tensor]:
        pixels = images.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = g.clip_loss(pixels, text).float()
        loss.sum().backward()
        assert pixels.grad is not None
        return loss.detach(), pixels.grad

    (loss, grad), (loss_kept, grad_kept) = loss_and_gradient(guidance), loss_and_gradient(kept)
    torch.testing.assert_close(loss_kept, loss, atol=1e-3, rtol=1e-3)
    assert float(torch.nn.functional.cosine_similarity(grad_kept.flatten(), grad.flatten(), dim=0)) > 0.99
    with torch.no_grad():  # outside autocast too (text encoding, code-books): CLIP casts to its dtype
        torch.testing.assert_close(
            kept.encode_image(images), guidance.encode_image(images), atol=3e-2, rtol=0
        )
        assert kept.encode_text("a tall person").dtype == torch.float32


def test_text_features_are_normalised_and_distinct(guidance: ClipGuidance) -> None:
    feats = guidance.encode_text(
        ["a person in a red shirt", "a tall person", "un homme à la chemise rouge 👕"]
    )
    assert feats.shape == (3, 32)
    torch.testing.assert_close(feats.norm(dim=-1), torch.ones(3))
    assert float((feats[0] - feats[1]).abs().max()) > 1e-3
    assert float((feats[0] - feats[2]).abs().max()) > 1e-3


def test_gradient_reaches_every_pixel_of_a_larger_render(guidance: ClipGuidance) -> None:
    render = torch.rand(1, 3, 64, 64, requires_grad=True)
    text = guidance.encode_text("a person in a red shirt")
    loss = guidance.clip_loss(render, text).sum()
    loss.backward()
    assert render.grad is not None
    assert float(render.grad.abs().sum()) > 0
    assert float((render.grad.abs().sum(1) > 0).float().mean()) > 0.99  # antialiased resize: no dead pixels
    assert 0.0 <= float(loss.detach()) <= 2.0


def test_long_prompt_is_truncated_with_a_warning(guidance: ClipGuidance) -> None:
    long = " ".join(["a very tall person in a bright red shirt"] * 20)
    with pytest.warns(PromptTruncatedWarning, match="77"):
        feats = guidance.encode_text(long)
    assert feats.shape == (1, 32)


def test_empty_prompt_is_refused(guidance: ClipGuidance) -> None:
    with pytest.raises(PromptError, match="empty"):
        guidance.encode_text("   ")


def test_missing_official_weights_offline_fail_fast_with_the_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(clip_model.ENV_OFFLINE, "1")
    started = time.monotonic()
    with pytest.raises(GuidanceUnavailable) as info:
        ClipGuidance("ViT-B/32", download_root=tmp_path)
    assert time.monotonic() - started < 5.0
    assert f"put ViT-B-32.pt in {tmp_path}" in str(info.value)
    assert "--clip-model PATH" in str(info.value)


def test_unreachable_network_is_not_waited_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(clip_model.ENV_OFFLINE, raising=False)
    monkeypatch.setattr(clip_model, "network_reachable", lambda host: False)
    with pytest.raises(GuidanceUnavailable, match="cannot be reached: put ViT-B-16.pt in"):
        ClipGuidance("ViT-B/16", download_root=tmp_path)


def test_bad_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(GuidanceUnavailable, match="not found"):
        ClipGuidance(str(tmp_path / "nope.pt"))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(GuidanceUnavailable, match="junk.pt is not a CLIP checkpoint"):
        ClipGuidance(str(junk))
    other = tmp_path / "other.pt"
    torch.save({"weight": torch.zeros(2)}, other)
    with pytest.raises(GuidanceUnavailable, match="other.pt is not a CLIP checkpoint"):
        ClipGuidance(str(other))


def test_select_prefers_clip_when_its_file_is_there(checkpoint: tuple[Path, CLIP], tmp_path: Path) -> None:
    path, _ = checkpoint
    assert find_checkpoint(str(path)) == path
    chosen = load_guidance(GuidanceConfig(backend="auto", clip_model=str(path)))
    assert chosen.name.startswith("CLIP")
    with pytest.raises(GuidanceUnavailable, match="not found"):
        load_guidance(GuidanceConfig(backend="clip", clip_model=str(tmp_path / "missing.pt")))
