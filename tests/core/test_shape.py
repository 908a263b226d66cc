"""Coarse shape: shape VAE, code-book and the neutral-anchored query (random guidance, fake renders)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.model import BodyModel, load_body_model
from avatarclip_studio.guidance.base import Guidance
from avatarclip_studio.shape import codebook as codebook_module
from avatarclip_studio.shape.codebook import ShapeCodebook, build_codebook, load_or_build_codebook
from avatarclip_studio.shape.config import ShapeConfig
from avatarclip_studio.shape.generate import coarse_shape
from avatarclip_studio.shape.query import ShapeQueryError, query_shape, score_codebook, shape_prompt
from avatarclip_studio.shape.vae import (
    ShapeVAE,
    ShapeVAEError,
    default_vae_path,
    load_shape_vae,
    train_shape_vae,
)
from avatarclip_studio.shape.views import view_azimuths

TINY = ShapeConfig(hidden_dim=32, vae_steps=400, codebook_size=6, codebook_views=2, render_size=32)


class RandomGuidance(Guidance):
    """Random but fixed encoders: texts hash to vectors, images go through a random projection."""

    name = "random-test-guidance"
    input_size = 16

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.projection = torch.randn(3 * 16 * 16, dim, generator=torch.Generator().manual_seed(0))

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def _encode_texts(self, texts: list[str]) -> torch.Tensor:
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        return torch.stack(
            [torch.randn(self.projection.shape[1], generator=torch.Generator().manual_seed(s)) for s in seeds]
        )

    def _encode_pixels(self, images: torch.Tensor) -> torch.Tensor:
        return (images.flatten(1) - 0.5) @ self.projection


def fake_views(views: int, size: int):
    """Orthographic silhouettes from the code-book azimuths: enough for features to depend on shape."""

    def render(vertices: np.ndarray) -> np.ndarray:
        images = np.full((views, size, size, 3), 255, np.uint8)
        for k, az in enumerate(view_azimuths(views)):
            a = np.radians(az)
            x = vertices[:, 0] * np.cos(a) + vertices[:, 2] * np.sin(a)
            cols = np.clip(((x + 1.2) / 2.4 * size).astype(int), 0, size - 1)
            rows = np.clip(((1.2 - vertices[:, 1]) / 2.4 * size).astype(int), 0, size - 1)
            images[k, rows, cols] = 128
        return images

    return render


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """The VAE is tiny: extra threads only add synchronisation (3-4x slower on a busy 2-core CI)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return load_body_model(BodyConfig())


@pytest.fixture(scope="module")
def tiny_vae(body: BodyModel) -> ShapeVAE:
    return train_shape_vae(body, TINY, steps=400, seed=0)


def test_vae_learns_the_body_shape_distribution(body: BodyModel, tiny_vae: ShapeVAE) -> None:
    data = body.sample_betas[:128]
    with torch.no_grad():
        recon = tiny_vae.decode(tiny_vae.encode(data)[0])
    truth = body.rest(data)[0]
    error = (body.rest(recon)[0] - truth).norm(dim=-1).mean()
    spread = (truth - truth.mean(0)).norm(dim=-1).mean()
    assert float(error) < 0.4 * float(spread)  # per-vertex, metres
    samples = tiny_vae.sample(64, torch.Generator().manual_seed(0))
    assert samples.shape == (64, body.num_betas) and torch.isfinite(samples).all()


def test_vae_training_is_seeded_and_round_trips(body: BodyModel, tmp_path: Path) -> None:
    first, again, other = (train_shape_vae(body, TINY, steps=30, seed=s) for s in (0, 0, 1))
    again.save(tmp_path / "vae.pt")
    z = torch.randn(4, TINY.latent_dim)
    assert torch.allclose(again.decode(z), first.decode(z))
    assert not torch.allclose(other.decode(z), first.decode(z))
    loaded = ShapeVAE.load(tmp_path / "vae.pt")
    assert loaded.body_name == body.name and torch.allclose(loaded.decode(z), again.decode(z))


def test_vae_loading_errors_and_cache(body: BodyModel, tmp_path: Path) -> None:
    with pytest.raises(ShapeVAEError, match="do not exist"):
        ShapeVAE.load(tmp_path / "missing.pt")
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(ShapeVAEError, match=r"bad\.pt"):
        ShapeVAE.load(tmp_path / "bad.pt")
    config = ShapeConfig(hidden_dim=16, vae_steps=20)  # no shipped VAE has this size: trained, cached
    first = load_shape_vae(body, config, tmp_path)
    assert list(tmp_path.glob("shape_vae-*.pt"))
    second = load_shape_vae(body, config, tmp_path)
    z = torch.randn(2, config.latent_dim)
    assert torch.allclose(first.decode(z), second.decode(z))


def test_shipped_vae_samples_plausible_bodies(body: BodyModel) -> None:
    vae = load_shape_vae(body, ShapeConfig(), Path("/nonexistent-cache"))  # must not need the cache
    assert default_vae_path().stat().st_size < 5e6 and vae.body_name == body.name
    vertices = body.rest(vae.sample(256, torch.Generator().manual_seed(0)))[0]
    heights = vertices[..., 1].amax(1) - vertices[..., 1].amin(1)
    assert 1.5 < float(heights.mean()) < 1.9 and float(heights.std()) > 0.08
    assert float(heights.min()) > 1.1 and float(heights.max()) < 2.3


def test_codebook_builds_saves_and_caches(
    body: BodyModel, tiny_vae: ShapeVAE, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guidance, render = RandomGuidance(), fake_views(TINY.codebook_views, TINY.render_size)
    book = load_or_build_codebook(body, tiny_vae, guidance, render, TINY, tmp_path)
    assert book.betas.shape == (6, body.num_betas) and book.features.shape == (6, 8)
    assert torch.allclose(book.features.norm(dim=1), torch.ones(6), atol=1e-5)
    assert book.neutral_features.shape == (8,) and book.guidance_name == guidance.name
    assert float(torch.cdist(book.features, book.features).max()) > 1e-3  # shapes render differently
    files = list(tmp_path.glob("shape_codebook-random-test-guidance-*.npz"))
    assert len(files) == 1

    def rebuild(*args: object, **kwargs: object) -> ShapeCodebook:
        raise AssertionError("code-book rebuilt")

    monkeypatch.setattr(codebook_module, "build_codebook", rebuild)
    cached = load_or_build_codebook(body, tiny_vae, guidance, render, TINY, tmp_path)
    assert torch.equal(cached.betas, book.betas) and torch.equal(cached.features, book.features)
    retrained = RandomGuidance()
    retrained.projection = retrained.projection + 0.1  # same name, new weights: the cache is stale
    with pytest.raises(AssertionError, match="rebuilt"):
        load_or_build_codebook(body, tiny_vae, retrained, render, TINY, tmp_path)
    files[0].write_bytes(b"damaged")
    with pytest.raises(AssertionError, match="rebuilt"):
        load_or_build_codebook(body, tiny_vae, guidance, render, TINY, tmp_path)


def test_query_returns_a_valid_body(body: BodyModel, tiny_vae: ShapeVAE) -> None:
    guidance = RandomGuidance()
    book = build_codebook(body, tiny_vae, guidance, fake_views(2, 32), size=6)
    result = query_shape("a tall and skinny person", book, guidance, body, TINY.neutral_text, top_k=3)
    assert result.text == "a 3d rendering of a tall and skinny person in unreal engine"
    assert result.vertices.shape == (body.num_vertices, 3) and torch.isfinite(result.vertices).all()
    height = float(result.vertices[:, 1].max() - result.vertices[:, 1].min())
    assert 1.2 < height < 2.3
    assert torch.equal(result.betas, book.betas[result.index])
    scores = [s for _, s in result.top_k]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True) and scores[0] == result.score
    assert -1.0 <= result.score <= 1.0


def test_query_scores_relative_to_the_neutral_anchors() -> None:
    """cos(norm(f_i − f_n), d_T): the entry that moved away from the neutral render the way the text
    moves wins, even when another entry is closer to the text direction in absolute terms."""
    e = torch.eye(3)
    neutral = e[0]
    moved = torch.stack([e[0] + 0.3 * e[1], e[2] + 0.5 * e[1], e[0] - e[1]])
    features = torch.nn.functional.normalize(moved, dim=1)
    book = ShapeCodebook(torch.zeros(3, 2), features, neutral, "g", "b", torch.zeros(3))
    direction = e[1]
    scores = score_codebook(book, direction)
    assert int((features @ direction).argmax()) == 1  # absolute similarity would pick entry 1
    assert int(scores.argmax()) == 0 and float(scores[0]) > 0.95
    assert float(scores[2]) < 0.0  # moved the opposite way


def test_query_refuses_a_codebook_of_another_guidance(body: BodyModel) -> None:
    book = ShapeCodebook(
        torch.zeros(2, 16), torch.eye(2, 8), torch.zeros(8), "CLIP ViT-B/32", body.name, torch.zeros(8)
    )
    with pytest.raises(ShapeQueryError, match="CLIP ViT-B/32"):
        query_shape("tall", book, RandomGuidance(), body, TINY.neutral_text)


def test_shape_prompt_uses_the_original_template() -> None:
    assert shape_prompt("  a strong   man ") == "a 3d rendering of a strong man in unreal engine"
    full = "a 3d rendering of a strong man in unreal engine"
    assert shape_prompt(full) == full
    with pytest.raises(ValueError, match="empty"):
        shape_prompt("   ")


def test_coarse_shape_end_to_end(body: BodyModel, tmp_path: Path) -> None:
    config = ShapeConfig(hidden_dim=16, vae_steps=20, codebook_size=4, codebook_views=1, render_size=32)
    result = coarse_shape(
        "a short person", RandomGuidance(), body, config, render=fake_views(1, 32), cache=tmp_path
    )
    assert result.vertices.shape == (body.num_vertices, 3) and len(result.top_k) == 4


def test_grey_views_with_the_offscreen_renderer(body: BodyModel) -> None:
    pytest.importorskip("avatarclip_studio.render.offscreen")
    from avatarclip_studio.shape.views import GreyBodyViews

    short, tall = (body.rest(torch.tensor([[b]]))[0][0].numpy() for b in (-2.0, 2.0))
    with GreyBodyViews(body.faces.numpy(), views=2, size=64) as views:
        images = views(tall)
        short_images = views(short)
    assert images.shape == (2, 64, 64, 3) and images.dtype == np.uint8
    rows = [int((im[0].min(-1) < 200).any(1).sum()) for im in (short_images, images)]
    assert rows[1] > rows[0] + 3  # the same camera sees the taller body taller
    assert not np.array_equal(images[0], images[1])  # front and 3/4 views differ


def test_offline_guidance_picks_taller_and_heavier_bodies_as_told(body: BodyModel) -> None:
    """The shipped offline guidance with the ``preview`` code-book (512 entries, built once and cached):
    measured height and volume follow the words. Measured: tall 1.89 m vs short 1.40 m; overweight
    0.090 m³ vs skinny 0.060 m³."""
    import trimesh

    from avatarclip_studio.config import preset
    from avatarclip_studio.guidance.offline.model import OfflineGuidance

    guidance, config = OfflineGuidance(), preset("preview").shape

    def measured(text: str) -> tuple[float, float]:
        betas = torch.as_tensor(coarse_shape(text, guidance, body, config).betas, dtype=torch.float32)
        with torch.no_grad():
            vertices = body.rest(betas[None])[0][0].numpy()
        volume = abs(trimesh.Trimesh(vertices, body.faces.numpy(), process=False).volume)
        return float(np.ptp(vertices[:, 1])), volume

    (tall, _), (short, _) = measured("a tall person"), measured("a short person")
    (_, heavy), (_, skinny) = measured("an overweight person"), measured("a skinny person")
    assert tall > short + 0.15
    assert heavy > skinny * 1.2
