"""The neutral-anchored text query over the shape code-book (METHOD.md §1).

``d_T = norm(E_T(t_shape) − E_T(t_neutral))``; each entry scores ``cos(norm(f_i − f_n), d_T)`` where
``f_n`` are the mean shape's image features; the best entry wins. Subtracting the neutral anchors on
both sides keeps only what the text says *about the shape*, not "a rendering of a person".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from avatarclip_studio.body.model import BodyModel
from avatarclip_studio.guidance.base import APPEARANCE_TEMPLATE, Guidance, check_prompt, relative_direction
from avatarclip_studio.shape.codebook import ShapeCodebook


class ShapeQueryError(ValueError):
    """A code-book that does not fit the guidance model or body it is queried with."""


@dataclass(frozen=True)
class ShapeResult:
    text: str
    """The prompt as encoded (templated)."""
    betas: torch.Tensor
    """(B,) the winning shape."""
    vertices: torch.Tensor
    """(V,3) its zero-pose (T-pose) vertices, pelvis at the origin."""
    score: float
    """Its cosine score in [-1, 1]."""
    index: int
    """Its code-book entry."""
    top_k: tuple[tuple[int, float], ...]
    """The best entries, (index, score), best first."""


def shape_prompt(text: str) -> str:
    """The shape text in the original's template, unless the user already wrote a full sentence of it."""
    text = check_prompt(text, "shape description")
    return text if "3d rendering" in text.lower() else APPEARANCE_TEMPLATE.format(text)


def text_direction(guidance: Guidance, text: str, neutral_text: str) -> torch.Tensor:
    """``d_T`` (D,): normalised text-feature direction from the neutral prompt to ``text``."""
    feats = guidance.encode_text([shape_prompt(text), check_prompt(neutral_text, "neutral shape text")])
    return relative_direction(feats[0], feats[1])


def score_codebook(codebook: ShapeCodebook, direction: torch.Tensor) -> torch.Tensor:
    """(N,) ``cos(norm(f_i − f_n), d_T)`` for every entry."""
    image_dirs = relative_direction(codebook.features, codebook.neutral_features[None])
    return image_dirs @ direction.to(image_dirs)


@torch.no_grad()
def query_shape(
    text: str,
    codebook: ShapeCodebook,
    guidance: Guidance,
    body: BodyModel,
    neutral_text: str,
    top_k: int = 5,
) -> ShapeResult:
    """The code-book body that best moves away from the neutral one the way ``text`` does."""
    if codebook.guidance_name != guidance.name:
        raise ShapeQueryError(
            f"the shape code-book was encoded with {codebook.guidance_name!r}, not the active guidance "
            f"{guidance.name!r}; rebuild it (`avatarclip-studio train codebooks`)"
        )
    if codebook.betas.shape[1] > body.num_betas:
        raise ShapeQueryError(
            f"the shape code-book holds {codebook.betas.shape[1]} betas; "
            f"body {body.name!r} takes {body.num_betas}"
        )
    scores = score_codebook(codebook, text_direction(guidance, text, neutral_text).cpu())
    best = torch.topk(scores, min(top_k, len(codebook)))
    index = int(best.indices[0])
    betas = codebook.betas[index]
    vertices = body.rest(betas[None].to(body.v_template))[0][0]
    return ShapeResult(
        text=shape_prompt(text),
        betas=betas,
        vertices=vertices,
        score=float(best.values[0]),
        index=index,
        top_k=tuple((int(i), float(s)) for i, s in zip(best.indices, best.values, strict=True)),
    )
