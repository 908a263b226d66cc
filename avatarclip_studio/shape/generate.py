"""Coarse shape stage, end to end: shape VAE → code-book (cached per guidance model) → text query."""

from __future__ import annotations

from pathlib import Path

from avatarclip_studio.body.model import BodyModel
from avatarclip_studio.guidance.base import Guidance
from avatarclip_studio.paths import cache_dir
from avatarclip_studio.pipeline.events import Reporter
from avatarclip_studio.shape.codebook import ShapeCodebook, load_or_build_codebook
from avatarclip_studio.shape.config import ShapeConfig
from avatarclip_studio.shape.query import ShapeResult, query_shape
from avatarclip_studio.shape.vae import load_shape_vae
from avatarclip_studio.shape.views import GreyBodyViews, ViewRenderer


def shape_codebook(
    guidance: Guidance,
    body: BodyModel,
    config: ShapeConfig,
    reporter: Reporter | None = None,
    render: ViewRenderer | None = None,
    cache: Path | None = None,
    seed: int = 0,
) -> ShapeCodebook:
    """The code-book for ``guidance`` and ``body``: from the cache, or built (minutes) and cached.

    ``render``: grey views of a body; default: :class:`GreyBodyViews` (offscreen OpenGL).
    ``cache``: default ``paths.cache_dir() / "shape"``.
    """
    cache = cache_dir() / "shape" if cache is None else cache
    vae = load_shape_vae(body, config, cache, reporter)
    if render is not None:
        return load_or_build_codebook(body, vae, guidance, render, config, cache, reporter, seed)
    with GreyBodyViews(body.faces.cpu().numpy(), config.codebook_views, config.render_size) as views:
        return load_or_build_codebook(body, vae, guidance, views, config, cache, reporter, seed)


def coarse_shape(
    text: str,
    guidance: Guidance,
    body: BodyModel,
    config: ShapeConfig,
    reporter: Reporter | None = None,
    render: ViewRenderer | None = None,
    cache: Path | None = None,
    seed: int = 0,
) -> ShapeResult:
    """METHOD.md §1: the body shape that best matches ``text`` (see :func:`query_shape`)."""
    codebook = shape_codebook(guidance, body, config, reporter, render, cache, seed)
    return query_shape(text, codebook, guidance, body, config.neutral_text, config.top_k)
