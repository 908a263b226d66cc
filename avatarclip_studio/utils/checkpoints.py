"""Loading checkpoints from files that may be damaged or hostile: a clear error, never code or a hang.

``torch.load`` runs with ``weights_only=True`` (no pickled code runs). A module is rebuilt from the
sizes a file claims only after those sizes were checked: first as plain integers in a sane range, then
by building the module on the meta device (no memory) and comparing its parameter shapes with the file's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch

M = TypeVar("M", bound=torch.nn.Module)

MAX_SIZE = 1 << 16
"""Largest width, depth or length a file may claim: far above any model here, far below a hang."""


def load_weights_only(
    path: str | Path, error: type[Exception], what: str, map_location: str | torch.device = "cpu"
) -> Any:
    """``torch.load(path, weights_only=True)``; any failure becomes ``error`` naming ``path``."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError as exc:
        raise error(f"{path}: no such {what} file") from exc
    except Exception as exc:  # torch raises a dozen types (zip, pickle, storage, EOF...) for a bad file
        raise error(f"{path}: not a readable {what} ({type(exc).__name__}: {exc})") from exc


def build_checked(
    make: Callable[[], M],
    state: Any,
    sizes: Mapping[str, Any],
    path: str | Path,
    error: type[Exception],
) -> M:
    """``make()`` with ``state`` loaded, once ``sizes`` (name → claimed size) and every shape agree.

    ``sizes``: the widths, depths and lengths ``make`` uses, each checked before anything is built (a
    depth of 10⁹ would take hours even on the meta device); the others are checked by the shapes.
    """
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIZE:
            raise error(f"{path}: {name} = {value!r} is not a size in 1..{MAX_SIZE}")
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise error(f"{path}: the weights are not a table of tensors")
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in make().state_dict().items()}
    except Exception as exc:  # any failure to build the claimed architecture: the file is unusable
        raise error(f"{path}: its sizes do not describe a usable model ({exc})") from exc
    given = {k: tuple(v.shape) for k, v in state.items()}
    if given != expected:
        wrong = sorted(set(given) ^ set(expected)) or sorted(k for k in given if given[k] != expected[k])
        raise error(f"{path}: weights do not match the architecture it claims (first: {wrong[0]})")
    model = make()
    model.load_state_dict(state)
    return model
