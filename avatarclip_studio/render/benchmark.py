"""Renderer throughput on the shipped body mesh: ``python -m avatarclip_studio.render.benchmark``.

Prints renders/s of :meth:`OffscreenRenderer.render_many` (grey, 128²) for each anti-aliasing mode,
the triangle-id pass, and forward + backward seconds of :func:`splat_render`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.model import load_body_model
from avatarclip_studio.render.camera import orbit_camera
from avatarclip_studio.render.differentiable import rasterize_ids, splat_render
from avatarclip_studio.render.offscreen import OffscreenRenderer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--count", type=int, default=100, help="renders per measurement")
    args = parser.parse_args()
    torch.set_num_threads(1)
    body = load_body_model(BodyConfig())
    vertices = body.rest(None)[0][0].numpy()
    faces = body.faces.numpy().astype(np.int32)
    print(f"body mesh: {len(vertices)} vertices, {len(faces)} triangles, {args.size}² renders")
    batch = np.repeat(vertices[None], args.count, axis=0)
    cameras = [orbit_camera(360.0 * i / args.count, 0.0, 2.5) for i in range(args.count)]
    modes = {
        "2×2 supersampling": {"supersample": True},
        "4× MSAA": {"supersample": False},
        "none": {"samples": 0},
    }
    for name, kwargs in modes.items():
        with OffscreenRenderer(args.size, args.size, **kwargs) as renderer:  # type: ignore[arg-type]
            renderer.render_many(batch[:2], faces, None, cameras[:2])  # warm-up: shader compile, buffers
            start = time.perf_counter()
            renderer.render_many(batch, faces, None, cameras)
            print(f"render_many, {name:18s}: {args.count / (time.perf_counter() - start):6.1f} renders/s")
    with OffscreenRenderer(args.size, args.size) as renderer:
        rasterize_ids(renderer, vertices, faces, cameras[0], args.size)
        start = time.perf_counter()
        for camera in cameras[:20]:
            rasterize_ids(renderer, vertices, faces, camera, args.size)
        print(f"rasterize_ids: {(time.perf_counter() - start) / 20 * 1e3:.1f} ms")
    for frames in (1, 4):
        verts = torch.from_numpy(batch[:frames]).requires_grad_(True)
        colors = torch.full_like(verts, 0.5).requires_grad_(True)
        start = time.perf_counter()
        splat_render(verts, colors, cameras[0], args.size).mean().backward()
        print(f"splat_render, {frames} frame(s), forward + backward: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
