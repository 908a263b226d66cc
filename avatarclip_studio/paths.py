"""Where shipped resources, shaders and caches live."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def resources_dir() -> Path:
    """Shipped data and small trained models (``resources/`` at the top of the project)."""
    return Path(os.environ.get("AVATARCLIP_RESOURCES", REPO_DIR / "resources"))


def resource_path(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def shaders_dir() -> Path:
    return Path(os.environ.get("AVATARCLIP_SHADERS", REPO_DIR / "shaders"))


def cache_dir() -> Path:
    """Caches (code-books, datasets): ``AVATARCLIP_CACHE_DIR`` or ``~/.cache/avatarclip-studio``."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "avatarclip-studio"
    path = Path(os.environ.get("AVATARCLIP_CACHE_DIR", default))
    path.mkdir(parents=True, exist_ok=True)
    return path
