from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BodyConfig:
    model_path: str = ""
    """An SMPL/SMPL-X model file (.pkl/.npz) loaded through smplx; empty: the shipped open body
    (``resources/body/open_body_neutral.npz``). Also set by ``AVATARCLIP_BODY_MODEL``."""
    num_betas: int = 16
    """Shape coefficients used, at most what the file has (the shipped open body: 16, whose first three
    read as height, weight and muscle; SMPL: 10)."""
