"""Finding the GLSL sources and compiling them into programs of one context.

The sources live in the repository's top-level ``shaders/`` folder; an installed copy ships them as data
files under ``<prefix>/share/avatarclip-studio/shaders``. Programs are built per context and never cached
here: a program belongs to the context that compiled it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import moderngl
import numpy as np


class ShaderError(RuntimeError):
    """A shader source that is missing or does not compile; the message names the file."""


def shader_dirs() -> list[Path]:
    """Folders searched for shader sources, in order: the source checkout, then the installed data files."""
    return [
        Path(__file__).resolve().parents[2] / "shaders",
        Path(sys.prefix) / "share" / "avatarclip-studio" / "shaders",
    ]


def shader_source(name: str, defines: Sequence[str] = ()) -> str:
    """Text of ``name`` (e.g. ``"mesh.vert"``) with ``#define`` lines inserted after its ``#version``."""
    for folder in shader_dirs():
        path = folder / name
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            break
    else:
        searched = ", ".join(str(d) for d in shader_dirs())
        raise ShaderError(f"shader {name!r} not found in {searched}")
    version, _, body = text.partition("\n")
    if not version.startswith("#version"):
        raise ShaderError(f"shader {name!r} must start with a #version line")
    return "\n".join([version, *(f"#define {d}" for d in defines), body])


def build_program(
    ctx: moderngl.Context, vertex: str, fragment: str, defines: Sequence[str] = ()
) -> moderngl.Program:
    """Compile and link ``vertex`` + ``fragment`` (file names) in ``ctx``."""
    try:
        return ctx.program(
            vertex_shader=shader_source(vertex, defines), fragment_shader=shader_source(fragment, defines)
        )
    except moderngl.Error as exc:
        raise ShaderError(f"shaders {vertex} + {fragment} do not compile: {exc}") from exc


def gl_matrix(matrix: np.ndarray) -> bytes:
    """Bytes of (..., 4, 4) row-major numpy matrices in GLSL's column-major float32 layout."""
    return np.ascontiguousarray(np.swapaxes(matrix, -1, -2), dtype=np.float32).tobytes()


def set_uniform(program: moderngl.Program, name: str, value: object) -> None:
    """Set ``name`` if the linker kept it (unused uniforms are optimised away); ``bytes`` are written
    raw (matrices, already column-major), anything else is assigned as the uniform's value."""
    if name in program:
        member = program[name]
        if isinstance(member, moderngl.Uniform):
            if isinstance(value, bytes):
                member.write(value)
            else:
                member.value = value
