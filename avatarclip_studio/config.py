"""The run configuration: one frozen dataclass per stage, composed, with named presets.

Defaults are the original method's (``shared/method/METHOD.md``); presets shrink them for a CPU
(``preview``) or keep them for a GPU (``quality``). The CLI and the UI edit the same object, and a
run saves it next to its outputs (TOML) so it can be reloaded or resumed.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal

import tomli_w
import tomllib
import yaml

from avatarclip_studio.avatar.config import MeshConfig
from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.device import DeviceChoice, PrecisionChoice
from avatarclip_studio.export.config import ExportConfig
from avatarclip_studio.guidance.config import GuidanceConfig
from avatarclip_studio.motion.config import MotionConfig
from avatarclip_studio.neus.config import NeusConfig
from avatarclip_studio.neus.sculpt_config import SculptConfig
from avatarclip_studio.shape.config import ShapeConfig

PresetName = Literal["default", "preview", "quality", "tiny"]


class ConfigError(ValueError):
    """A configuration file or override that cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class StudioConfig:
    device: DeviceChoice = "auto"
    precision: PrecisionChoice = "auto"
    seed: int = 0
    body: BodyConfig = field(default_factory=BodyConfig)
    guidance: GuidanceConfig = field(default_factory=GuidanceConfig)
    shape: ShapeConfig = field(default_factory=ShapeConfig)
    neus: NeusConfig = field(default_factory=NeusConfig)
    sculpt: SculptConfig = field(default_factory=SculptConfig)
    mesh: MeshConfig = field(default_factory=MeshConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    export: ExportConfig = field(default_factory=ExportConfig)


def preset(name: PresetName | str) -> StudioConfig:
    """A named starting point: ``default`` (the original's settings), ``quality`` (GPU),
    ``preview`` (a recognisable avatar in minutes on a 2-core CPU), ``tiny`` (tests, seconds)."""
    base = StudioConfig()
    if name in ("default", "quality"):
        return base
    if name == "preview":
        return replace(
            base,
            neus=replace(base.neus, sdf_layers=3, sdf_width=128, color_layers=1, color_width=128),
            sculpt=replace(base.sculpt, steps=600, render_size=128, max_rays=128 * 128),
            mesh=replace(base.mesh, resolution=256),
            shape=replace(base.shape, codebook_size=512),
            motion=replace(base.motion, optimise_steps=300, pose_codebook_size=1024),
        )
    if name == "tiny":
        return replace(
            base,
            neus=replace(
                base.neus,
                sdf_layers=2,
                sdf_width=32,
                color_layers=1,
                color_width=32,
                occupancy_resolution=32,
                init_steps=60,
                init_seconds=10.0,
            ),
            sculpt=replace(base.sculpt, steps=4, render_size=48, max_rays=48 * 48, checkpoint_every=2),
            mesh=replace(base.mesh, resolution=48),
            shape=replace(base.shape, codebook_size=32, codebook_views=1),
            motion=replace(
                base.motion, optimise_steps=5, pose_codebook_size=64, num_frames=16, vae_latent=32
            ),
            export=replace(base.export, texture_size=64, video_size=(96, 96)),
        )
    raise ConfigError(f"unknown preset {name!r}; choose one of default, preview, quality, tiny")


def to_dict(config: Any) -> dict[str, Any]:
    """Plain nested dict (tuples as lists), for TOML/YAML/JSON."""
    return _plain(dataclasses.asdict(config))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def from_dict(data: dict[str, Any], base: StudioConfig | None = None) -> StudioConfig:
    """Overlay ``data`` on ``base`` (default: the default preset), checking every key and type."""
    return _overlay(base if base is not None else StudioConfig(), data, "")


def _overlay(obj: Any, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a table, got {type(data).__name__}")
    hints = typing.get_type_hints(type(obj))
    known = {f.name for f in fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if key not in known:
            raise ConfigError(f"{path}: unknown setting (known: {', '.join(sorted(known))})")
        current = getattr(obj, key)
        if is_dataclass(current):
            changes[key] = _overlay(current, value, path)
        else:
            changes[key] = _coerce(value, hints[key], path)
    return replace(obj, **changes)


def _coerce(value: Any, hint: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"{path}: {value!r} is not one of {list(typing.get_args(hint))}")
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            if option is type(None) and value is None:
                return None
            if option is not type(None):
                try:
                    return _coerce(value, option, path)
                except ConfigError:
                    continue
        raise ConfigError(f"{path}: {value!r} does not fit {hint}")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        args = typing.get_args(hint)
        item_types = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(item_types) != len(value):
            raise ConfigError(f"{path}: expected {len(item_types)} values, got {len(value)}")
        return tuple(_coerce(v, t, path) for v, t in zip(value, item_types, strict=True))
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{path}: must be finite, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected text, got {value!r}")
        return value
    raise ConfigError(f"{path}: unsupported setting type {hint}")


def load_config(path: str | Path, base: StudioConfig | None = None) -> StudioConfig:
    """Read a ``.toml``, ``.yaml``/``.yml`` or ``.json`` config; a ``preset = "name"`` key picks the base."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from exc
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml", ".json"):
            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"{path}: unknown config format (use .toml, .yaml or .json)")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: malformed config: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a table of settings")
    preset_name = data.pop("preset", None)
    if preset_name is not None:
        base = preset(str(preset_name))
    try:
        return from_dict(data, base)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def dump_config(config: StudioConfig, path: str | Path) -> None:
    """Write ``config`` as TOML or YAML (by suffix), atomically."""
    from avatarclip_studio.utils.atomic import atomic_write_text

    path = Path(path)
    data = to_dict(config)
    text = yaml.safe_dump(data, sort_keys=False) if path.suffix in (".yaml", ".yml") else tomli_w.dumps(data)
    atomic_write_text(path, text)
