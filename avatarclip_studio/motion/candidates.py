"""Candidate poses for a motion text: code-book query, near-duplicate removal, top K (METHOD.md §5)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from avatarclip_studio.guidance.base import MOTION_TEMPLATE, Guidance, check_prompt
from avatarclip_studio.motion.codebook import PoseCodebook
from avatarclip_studio.motion.config import MotionConfig


@dataclass(frozen=True)
class Candidate:
    pose: np.ndarray
    """(24, 3) axis-angle, global orientation zero."""
    score: float
    """Cosine similarity of its averaged image feature to the motion text."""
    index: int
    """Row in the code-book."""


def pose_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean |Δθ| (rad) over the body joints' axis-angle components: (N, 24, 3) vs (M, 24, 3) → (N, M)."""
    return (a[:, None, 1:22] - b[None, :, 1:22]).abs().mean(dim=(2, 3))


def find_candidates(
    text: str, guidance: Guidance, codebook: PoseCodebook, config: MotionConfig
) -> list[Candidate]:
    """The ``config.num_candidates`` best distinct poses for ``text`` (wrapped in MOTION_TEMPLATE).

    Top ``top_k_text`` by cosine similarity, then greedily, best first, drop any pose whose mean
    |Δθ| to an already kept one is ≤ ``duplicate_threshold``; the first K kept ones win.
    """
    prompt = MOTION_TEMPLATE.format(check_prompt(text, "motion text"))
    text_feature = guidance.encode_text(prompt).float().cpu()[0]
    scores = codebook.features.float() @ text_feature
    top = torch.topk(scores, min(config.top_k_text, len(scores))).indices
    kept: list[int] = []
    for idx in top.tolist():
        if kept:
            dist = pose_distance(codebook.poses[idx : idx + 1], codebook.poses[kept])
            if float(dist.min()) <= config.duplicate_threshold:
                continue
        kept.append(idx)
        if len(kept) == config.num_candidates:
            break
    return [Candidate(codebook.poses[i].numpy().copy(), float(scores[i]), i) for i in kept]
