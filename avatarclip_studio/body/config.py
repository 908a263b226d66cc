from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BodyConfig:
    model_path: str = ""
    """An SMPL/SMPL-X model file (.pkl/.npz) loaded through smplx; empty: the shipped open body
    (``resources/body/open_body_neutral.npz``). Also set by ``AVATARCLIP_BODY_MODEL``."""
    num_betas: int = 10
    """Shape coefficients used (the shipped body has 16)."""
