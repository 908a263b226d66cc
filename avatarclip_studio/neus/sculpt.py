"""CLIP-guided sculpting and texturing of the implicit avatar (METHOD.md §3).

Each step renders one random view of the field inside the dilated template silhouette, shades it grey
and textured under a random Lambertian light over a random background, and scores both images against
the appearance text (the face prompt for face zooms, the back prompt for rear views). The grey head c
keeps reproducing the grey template (its mesh ray-cast with the same rays and light; a frozen copy of the
initial field rendered by NeuS where Embree is missing), which together with the silhouette term anchors
the body; the CLIP terms sculpt detail and paint the texture head c_c.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from avatarclip_studio.device import Compute
from avatarclip_studio.guidance.base import (
    APPEARANCE_TEMPLATE,
    BACK_TEMPLATE,
    FACE_TEMPLATE,
    Guidance,
    check_prompt,
)
from avatarclip_studio.neus.fields import NeusAvatarField
from avatarclip_studio.neus.occupancy import OccupancyGrid
from avatarclip_studio.neus.preview import coarse_mesh
from avatarclip_studio.neus.rays import LookAt, camera_rays, project_points
from avatarclip_studio.neus.sculpt_config import SculptConfig
from avatarclip_studio.neus.template_raycast import TemplateRaycaster, embree_available
from avatarclip_studio.neus.views import View, sample_background, sample_light, sample_view
from avatarclip_studio.neus.volume_render import render_rays
from avatarclip_studio.pipeline.events import Cancelled, ImageSnapshot, MeshSnapshot, Progress, Reporter
from avatarclip_studio.utils.atomic import atomic_path
from avatarclip_studio.utils.checkpoints import load_weights_only

CHECKPOINT_NAME = "sculpt.pt"
MIN_RAYS = 512
"""The smallest ray budget per view worth optimising with; below it an out-of-memory is an error."""
STAGE = "sculpt"


class OutOfMemory(MemoryError):
    """Out of device memory even at the smallest ray budget; the message says what to change."""


class CheckpointError(ValueError):
    """A sculpt checkpoint that cannot be resumed; the message names the file."""


@dataclass(frozen=True)
class ViewRender:
    """One rendered view. Images ``(1, 3, H, W)`` in [0, 1]; per-ray values ``(R, ·)`` for R rendered rays."""

    textured: torch.Tensor
    grey: torch.Tensor
    rec: torch.Tensor  # (R, 3) the c head, shaded and composited
    template_rec: torch.Tensor  # (R, 3) the grey template's render, same rays and light
    opacity: torch.Tensor  # (R,)
    template_opacity: torch.Tensor  # (R,)
    eikonal: torch.Tensor  # ()


def _shade(normal: torch.Tensor, albedo: torch.Tensor, light: torch.Tensor, ambient: float) -> torch.Tensor:
    """Lambertian ``albedo·(A + D·max(n·l, 0))`` with premultiplied albedo ``(R, 3)`` → ``(R, 3)``."""
    normal = F.normalize(normal, dim=-1, eps=1e-6)
    return albedo * (ambient + (1.0 - ambient) * torch.relu(normal @ light))[:, None]


class Sculptor:
    """Optimises ``field`` towards ``prompts["appearance"]``; resumable from ``checkpoint_dir``."""

    def __init__(
        self,
        field: NeusAvatarField,
        guidance: Guidance,
        template: tuple[np.ndarray, np.ndarray],
        head_position: np.ndarray,
        prompts: dict[str, str],
        config: SculptConfig,
        compute: Compute,
        reporter: Reporter,
        checkpoint_dir: str | Path | None = None,
    ) -> None:
        if "appearance" not in prompts:
            raise ValueError(f"sculpting needs an 'appearance' prompt; got prompts for {sorted(prompts)}")
        appearance = check_prompt(prompts["appearance"], "appearance prompt")
        vertices = np.asarray(template[0], dtype=np.float32)
        if vertices.ndim != 2 or vertices.shape[1] != 3:
            raise ValueError(f"template vertices must have shape (V, 3), got {vertices.shape}")
        head = np.asarray(head_position, dtype=np.float32)
        if head.shape != (3,) or not np.isfinite(head).all():
            raise ValueError(f"head_position must be a finite (3,) point, got {head}")
        self.config, self.compute, self.reporter, self.guidance = config, compute, reporter, guidance
        device = compute.device
        self.field = field.to(device)
        self.template_vertices = torch.from_numpy(vertices).to(device)
        self.head = torch.from_numpy(head)
        self.text = {
            "body": guidance.encode_text(APPEARANCE_TEMPLATE.format(appearance)),
            "face": guidance.encode_text(FACE_TEMPLATE.format(appearance)),
            "back": guidance.encode_text(BACK_TEMPLATE.format(appearance)),
        }
        neus = field.config
        self.grid = OccupancyGrid(neus.occupancy_resolution, neus.scene_radius, neus.occupancy_band, device)
        self.raycaster: TemplateRaycaster | None = None
        self.reference: NeusAvatarField | None = None
        if config.template_reference == "mesh" and embree_available():
            self.raycaster = TemplateRaycaster(vertices, np.asarray(template[1]))
        else:
            if config.template_reference == "mesh":
                reporter.log(
                    STAGE, "Embree is not installed: the template reference is rendered by NeuS (slower)"
                )
            self.reference = copy.deepcopy(self.field).requires_grad_(False)
            self.reference_grid = OccupancyGrid(
                neus.occupancy_resolution, neus.scene_radius, neus.occupancy_band, device
            )
            self.reference_grid.update(self.reference.sdf)
        self.optimiser = torch.optim.Adam(self.field.parameters(), lr=config.lr)
        self.generator = torch.Generator(device="cpu").manual_seed(config.seed)
        self.max_rays = config.max_rays
        """Ray budget per view: ``config.max_rays``, halved after each out-of-memory on the device."""
        self.step = 0
        self.checkpoint_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
        self._good: dict[str, Any] | None = None
        self.last_render: ViewRender | None = None

    # ----- one view -------------------------------------------------------------------------------
    def _template_silhouette(self, camera: LookAt, size: int) -> torch.Tensor:
        """``(size, size)`` bool: the template's projected vertices, dilated, which closes the gaps."""
        row, col = project_points(camera, self.template_vertices, size, size)
        mask = torch.zeros(size, size, device=self.compute.device)
        mask[row, col] = 1.0
        radius = max(1, round(self.config.silhouette_dilation * size))
        return F.max_pool2d(mask[None, None], 2 * radius + 1, stride=1, padding=radius)[0, 0] > 0

    def render_view(
        self, view: View, light: torch.Tensor, ambient: float, background: torch.Tensor
    ) -> ViewRender:
        """Render ``view`` with gradients, plus the grey template's reference render of the same rays."""
        size = self.config.render_size
        device = self.compute.device
        cam = view.camera
        camera = replace(cam, eye=cam.eye.to(device), target=cam.target.to(device), up=cam.up.to(device))
        origins, dirs = camera_rays(camera, size, size)
        rays = torch.nonzero(self._template_silhouette(camera, size).reshape(-1)).squeeze(-1)
        if rays.numel() > self.max_rays:
            keep = torch.randperm(rays.numel(), generator=self.generator)[: self.max_rays]
            rays = rays[keep.to(device)].sort().values
        origins, dirs = origins[rays], dirs[rays]
        light, bg = light.to(device), background.to(device).reshape(-1, 3)
        out = render_rays(self.field, origins, dirs, self.grid, self.compute, with_graph=True)
        assert out.texture is not None and out.color is not None
        template_opacity, template_shaded = self._template_render(origins, dirs, light, ambient)

        def composite(premultiplied: torch.Tensor, opacity: torch.Tensor) -> torch.Tensor:
            return premultiplied + (1.0 - opacity)[:, None] * bg[rays]

        def image(values: torch.Tensor) -> torch.Tensor:
            return bg.index_put((rays,), values).reshape(size, size, 3).permute(2, 0, 1)[None]

        return ViewRender(
            textured=image(composite(_shade(out.normal, out.texture, light, ambient), out.opacity)),
            grey=image(
                composite(_shade(out.normal, out.opacity[:, None].expand(-1, 3), light, ambient), out.opacity)
            ),
            rec=composite(_shade(out.normal, out.color, light, ambient), out.opacity),
            template_rec=composite(template_shaded, template_opacity),
            opacity=out.opacity,
            template_opacity=template_opacity,
            eikonal=out.eikonal,
        )

    @torch.no_grad()
    def _template_render(
        self, origins: torch.Tensor, dirs: torch.Tensor, light: torch.Tensor, ambient: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The grey template seen by these rays: opacity ``(R,)`` and shaded premultiplied grey ``(R, 3)``."""
        if self.raycaster is not None:
            hit, normal = self.raycaster.cast(origins, dirs)
            albedo = (self.field.config.template_grey * hit)[:, None].expand(-1, 3)
            return hit, _shade(normal, albedo, light, ambient)
        assert self.reference is not None
        ref = render_rays(self.reference, origins, dirs, self.reference_grid, self.compute, False, ("color",))
        assert ref.color is not None
        return ref.opacity, _shade(ref.normal, ref.color, light, ambient)

    def loss_terms(self, r: ViewRender, text: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The paper's loss, term by term:
        ``L = λ_rec·L_rec + λ_eik·L_eikonal + λ_mask·BCE(silhouette) + L_clip(textured) + L_clip(grey)``."""
        c = self.config
        with self.compute.autocast():  # both images in one batch: one pass through the image encoder
            clip_textured, clip_grey = self.guidance.clip_loss(torch.cat([r.textured, r.grey]), text).float()
        terms = {
            "rec": F.mse_loss(r.rec, r.template_rec),
            "eikonal": r.eikonal,
            "mask": F.binary_cross_entropy(
                r.opacity.clamp(1e-4, 1 - 1e-4), r.template_opacity.clamp(0.0, 1.0)
            ),
            "clip_textured": clip_textured,
            "clip_grey": clip_grey,
        }
        total = (
            c.lambda_rec * terms["rec"]
            + c.lambda_eikonal * terms["eikonal"]
            + c.lambda_mask * terms["mask"]
            + c.lambda_clip_color * terms["clip_textured"]
            + c.lambda_clip_gray * terms["clip_grey"]
        )
        return total, terms

    @property
    def lr(self) -> float:
        """The current learning rate (halved after each roll-back)."""
        return float(self.optimiser.param_groups[0]["lr"])

    # ----- state ----------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "field": copy.deepcopy(self.field.state_dict()),
            "optimiser": copy.deepcopy(self.optimiser.state_dict()),
            "generator": self.generator.get_state(),
            "grid": self.grid.state_dict(),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.field.load_state_dict(state["field"])
        self.optimiser.load_state_dict(state["optimiser"])
        self.generator.set_state(state["generator"])
        self.grid.load_state_dict(state["grid"])
        self.step = int(state["step"])

    def save_checkpoint(self) -> None:
        if self.checkpoint_path is None:
            return
        with atomic_path(self.checkpoint_path) as tmp:
            torch.save(self._state(), tmp)

    def _resume(self) -> None:
        if self.checkpoint_path is None or not self.checkpoint_path.exists():
            return
        hint = "sculpt checkpoint (delete it to start over)"
        state = load_weights_only(self.checkpoint_path, CheckpointError, hint, self.compute.device)
        try:
            state["generator"] = state["generator"].cpu()
            self._restore(state)
        except (KeyError, RuntimeError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise CheckpointError(
                f"{self.checkpoint_path}: cannot resume sculpting ({exc}); delete it to start over"
            ) from exc
        self.reporter.log(STAGE, f"resumed at step {self.step}")

    def _roll_back(self, reason: str) -> None:
        """Back to the last good state with half the learning rate (the generator keeps going)."""
        generator, step = self.generator.get_state(), self.step
        if self._good is not None:
            self._restore(self._good)
        self.generator.set_state(generator)
        self.step = step
        for group in self.optimiser.param_groups:
            group["lr"] *= 0.5
        lr = self.optimiser.param_groups[0]["lr"]
        self.reporter.log(
            STAGE, f"warning: {reason} at step {self.step}; rolled back, learning rate halved to {lr:.2g}"
        )

    # ----- loop -----------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float] | None:
        """One optimisation step; returns the loss terms, or None when it was rolled back."""
        neus = self.field.config
        if self.step % neus.occupancy_update_every == 0:
            with self.compute.autocast():
                self.grid.update(self.field.sdf)
        view = sample_view(self.step, self.config, self.head, self.generator)
        light, ambient = sample_light(view.camera, self.config, self.generator)
        background = sample_background(self.config.render_size, self.generator)
        render = self.render_view(view, light, ambient, background)
        total, terms = self.loss_terms(render, self.text[view.kind])
        self.optimiser.zero_grad(set_to_none=True)
        if not torch.isfinite(total):
            self._roll_back("the loss is not finite")
            return None
        total.backward()
        grads = [p.grad for p in self.field.parameters() if p.grad is not None]
        if not all(bool(torch.isfinite(g).all()) for g in grads):
            self._roll_back("a gradient is not finite")
            return None
        self._good = self._state()
        self.optimiser.step()
        self.step += 1
        self.last_render = render
        return {k: float(v.detach()) for k, v in terms.items()} | {"total": float(total.detach())}

    def _fewer_rays(self) -> None:
        """Out of device memory: halve the ray budget and warn; below ``MIN_RAYS`` give up, clearly."""
        self.optimiser.zero_grad(set_to_none=True)
        self.last_render = None
        if self.compute.is_cuda:
            torch.cuda.empty_cache()
        if self.max_rays // 2 < MIN_RAYS:
            raise OutOfMemory(
                f"out of memory on {self.compute.device} even with {self.max_rays} rays per view; "
                "use a smaller preset (--preset preview), close other GPU programs, or --device cpu"
            )
        self.max_rays //= 2
        self.reporter.log(
            STAGE, f"warning: out of memory at step {self.step}; rays per view lowered to {self.max_rays}"
        )

    def _snapshot(self) -> None:
        if self.last_render is not None:
            image = self.last_render.textured[0].detach().permute(1, 2, 0).clamp(0, 1).cpu().numpy()
            self.reporter.emit(
                ImageSnapshot(STAGE, self.step, (image * 255).round().astype(np.uint8), "textured")
            )
        mesh = coarse_mesh(self.field, self.config.snapshot_mesh_resolution)
        if mesh is not None:
            self.reporter.emit(MeshSnapshot(STAGE, self.step, *mesh))

    def run(self) -> NeusAvatarField:
        """Optimise until ``config.steps`` (resuming from the checkpoint if one exists); returns the field."""
        self._resume()
        total_steps = self.config.steps
        started, first_step = time.perf_counter(), self.step
        while self.step < total_steps:
            try:
                self.reporter.check()
            except Cancelled:
                self.save_checkpoint()  # a stopped run resumes where it stopped
                raise
            try:
                losses = self.train_step()
            except torch.cuda.OutOfMemoryError:
                self._fewer_rays()
                continue
            if losses is None:
                continue
            rate = (self.step - first_step) / max(time.perf_counter() - started, 1e-9)
            self.reporter.emit(
                Progress(STAGE, self.step, total_steps, losses, (total_steps - self.step) / rate, rate)
            )
            if self.step % self.config.snapshot_every == 0 or self.step == total_steps:
                self._snapshot()
            if self.step % self.config.checkpoint_every == 0 or self.step == total_steps:
                self.save_checkpoint()
        return self.field
