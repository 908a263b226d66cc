"""Reference-based animation (METHOD.md §5): optimise one motion-VAE latent so the motion passes
through the candidate poses, looks like the text, and moves.

Per step, term by term as in the paper::

    L = Σ_k w_k · min_t d(R_t, P_k)                      candidate k appears in its best frame
      + λ_clip · Σ_f ω_f · L_clip(render(frame f), text)  later frames weigh more (every clip_every steps)
      − motion_intensity · mean_t |J_{t+1} − J_t|          reward for moving
      + latent_reg · |z|²                                  stay near the VAE's prior (ours)

``d`` compares body-joint rotations and root-relative joint positions (:func:`candidate_loss`), ``J``
are the skeleton's joint positions. The state is one latent plus its Adam moments: checkpointing
and resuming are cheap.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from avatarclip_studio.body.model import BodyModel
from avatarclip_studio.device import Compute
from avatarclip_studio.guidance.base import MOTION_TEMPLATE, Guidance, check_prompt
from avatarclip_studio.motion.candidates import Candidate, find_candidates
from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.codebook import PoseCodebook, ViewRenderer, build_codebook
from avatarclip_studio.motion.config import MotionConfig
from avatarclip_studio.motion.kinematics import ground, joint_positions_from_matrices
from avatarclip_studio.motion.motion_vae import (
    MotionVAE,
    features_to_matrices,
    load_motion_vae,
    motion_joints,
)
from avatarclip_studio.motion.pose_prior import BODY_JOINTS, PosePrior, load_pose_prior
from avatarclip_studio.pipeline.events import MeshSnapshot, Progress, Reporter
from avatarclip_studio.utils.atomic import atomic_path
from avatarclip_studio.utils.checkpoints import load_weights_only
from avatarclip_studio.utils.rotations import axis_angle_to_matrix, matrix_to_axis_angle

FrameRenderer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(vertices (B,V,3), faces (F,3)) -> images (B,3,H,W)`` in [0, 1], differentiable w.r.t. vertices."""


class MotionStateError(ValueError):
    """A motion checkpoint that does not belong to this run."""


def splat_frame_renderer(size: int, distance: float = 2.6) -> FrameRenderer | None:
    """Front-view grey renders through ``render/differentiable.py``'s ``splat_render``; None when that
    module is not installed (the CLIP term is then skipped)."""
    if importlib.util.find_spec("avatarclip_studio.render.differentiable") is None:
        return None
    from avatarclip_studio.render.camera import orbit_camera
    from avatarclip_studio.render.differentiable import splat_render

    camera = orbit_camera(0.0, 10.0, distance, target=(0.0, -0.1, 0.0))
    eye = torch.as_tensor(np.asarray(camera.eye, dtype=np.float32))

    def render(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        # Lambertian grey (A + D·n·l, light from the camera), since the splats carry colour only
        tri = vertices[:, faces]  # (B, F, 3, 3)
        face_n = torch.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0], dim=-1)
        normals = torch.zeros_like(vertices).index_add_(
            1, faces.reshape(-1), face_n.repeat_interleave(3, dim=1)
        )
        normals = torch.nn.functional.normalize(normals, dim=-1)
        light = torch.nn.functional.normalize(eye.to(vertices.device) - vertices, dim=-1)
        shade = 0.2 + 0.8 * (normals * light).sum(-1, keepdim=True).clamp(min=0.0)
        # every other vertex, slightly wider splats: half the cost, the same silhouette and shading
        points, colors = vertices[:, ::2], shade[:, ::2].expand(-1, -1, 3)
        return splat_render(points, colors, camera, size, sigma_px=1.3, background=(1.0, 1.0, 1.0))

    return render


def _body_joints(rot: torch.Tensor) -> torch.Tensor:
    """Joint positions (N, 24, 3) of rotations (N, 24, 3, 3) with the root orientation removed."""
    local = rot.clone()
    local[:, 0] = torch.eye(3, dtype=rot.dtype, device=rot.device)
    return joint_positions_from_matrices(local)


def candidate_loss(rot: torch.Tensor, candidates: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Σ_k w_k min_t d(frame t, candidate k); ``rot`` (T, 24, 3, 3), ``candidates`` (K, 24, 3, 3),
    ``weights`` (K,).

    ``d`` = mean squared difference of the 21 body-joint rotation matrices + 10 × mean squared
    distance (m²) of the root-relative joint positions. Rotations alone weigh a wrist like a hip; the
    position term makes what changes the silhouette (legs, spine, whole arms) count most.
    """
    rot_diff = (
        (rot[None, :, BODY_JOINTS] - candidates[:, None, BODY_JOINTS]).pow(2).sum(dim=(-1, -2)).mean(-1)
    )
    pos_diff = (_body_joints(rot)[None] - _body_joints(candidates)[:, None]).pow(2).sum(-1).mean(-1)
    diff = rot_diff + 10.0 * pos_diff  # (K, T)
    return (weights * diff.min(dim=1).values).sum()


def _clip_frames(frames: int, count: int) -> tuple[list[int], torch.Tensor]:
    """Indices of the rendered frames (spread over the clip, ending at the last) and their weights."""
    idx = [round((frames - 1) * (i + 1) / count) for i in range(count)]
    weights = torch.arange(1, count + 1, dtype=torch.float32)
    return idx, weights / weights.sum()


def _save_state(path: Path, z: torch.Tensor, opt: torch.optim.Optimizer, step: int, prompt: str) -> None:
    state = {"z": z.detach().cpu(), "optimizer": opt.state_dict(), "step": step, "prompt": prompt}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _load_state(path: Path, prompt: str) -> dict[str, object]:
    state = load_weights_only(path, MotionStateError, "motion checkpoint (delete it to start over)")
    if not isinstance(state, dict) or state.get("prompt") != prompt:
        raise MotionStateError(f"{path}: checkpoint of another motion text; delete it to start over")
    step = state.get("step")
    if not isinstance(state.get("z"), torch.Tensor) or not isinstance(state.get("optimizer"), dict):
        raise MotionStateError(f"{path}: not a motion checkpoint (no latent or optimiser); delete it")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise MotionStateError(f"{path}: not a motion checkpoint (step {step!r}); delete it to start over")
    return state


def _initial_latent(
    vae: MotionVAE, cand_rot: torch.Tensor, weights: torch.Tensor, frames: int, seed: int
) -> torch.Tensor:
    """The best of a few prior samples (and the mean) under the candidate loss: a good basin to start in."""
    gen = torch.Generator().manual_seed(seed)
    device = cand_rot.device
    z = torch.cat([torch.zeros(1, vae.latent), torch.randn(31, vae.latent, generator=gen)]).to(device)
    with torch.no_grad():
        rot, _ = features_to_matrices(vae.decode(z, frames))
        losses = torch.stack([candidate_loss(r, cand_rot, weights) for r in rot])
    return z[int(losses.argmin())].clone()


def generate_motion(
    text: str,
    guidance: Guidance,
    body: BodyModel,
    config: MotionConfig,
    compute: Compute,
    reporter: Reporter | None = None,
    *,
    prior: PosePrior | None = None,
    vae: MotionVAE | None = None,
    codebook: PoseCodebook | None = None,
    render_views: ViewRenderer | None = None,
    render_frames: FrameRenderer | None = None,
    checkpoint: str | Path | None = None,
) -> tuple[MotionClip, list[Candidate]]:
    """Text → candidate poses → an animation of ``config.num_frames`` frames at ``config.fps``.

    Models default to the shipped ones (``config.pose_prior_path`` / ``config.motion_vae_path``); the
    code-book to the cached one for ``guidance``; ``render_frames`` to :func:`splat_frame_renderer`
    (no CLIP term when unavailable or ``lambda_clip`` is 0). ``checkpoint``: a file the optimisation
    state is saved to every ``checkpoint_every`` steps and resumed from when it exists.
    """
    reporter = reporter or Reporter()
    prompt = MOTION_TEMPLATE.format(check_prompt(text, "motion text"))
    device = compute.device
    prior = prior or load_pose_prior(config.pose_prior_path or None, device)
    vae = (vae or load_motion_vae(config.motion_vae_path or None)).to(device).eval()
    codebook = codebook or build_codebook(guidance, body, prior, config, compute, reporter, render_views)
    candidates = find_candidates(text, guidance, codebook, config)
    cand_rot = axis_angle_to_matrix(torch.as_tensor(np.stack([c.pose for c in candidates]), device=device))
    weights = torch.tensor(config.candidate_weights[: len(candidates)], device=device)

    if render_frames is None and config.lambda_clip > 0:
        render_frames = splat_frame_renderer(config.clip_render_size)
    use_clip = render_frames is not None and config.lambda_clip > 0
    if not use_clip:
        reporter.log("motion", "no differentiable renderer: optimising the candidate terms only")
    text_feature = guidance.encode_text(prompt).to(device) if use_clip else None
    clip_idx, clip_w = _clip_frames(config.num_frames, config.clip_frames)
    faces = body.faces.to(device)

    ckpt = Path(checkpoint) if checkpoint else None
    start = 0
    z = _initial_latent(vae, cand_rot, weights, config.num_frames, config.seed).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=config.optimise_lr)
    if ckpt is not None and ckpt.is_file():
        state = _load_state(ckpt, prompt)
        try:
            with torch.no_grad():
                z.copy_(state["z"])  # type: ignore[arg-type]
            opt.load_state_dict(state["optimizer"])  # type: ignore[arg-type]
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise MotionStateError(f"{ckpt}: checkpoint of another motion set-up ({exc}); delete it") from exc
        start = int(state["step"])  # type: ignore[call-overload]
    for p in vae.parameters():
        p.requires_grad_(False)

    started = time.perf_counter()
    for step in range(start + 1, config.optimise_steps + 1):
        reporter.check()
        features = vae.decode(z[None], config.num_frames)
        rot, _ = features_to_matrices(features)
        terms = {"candidates": candidate_loss(rot[0], cand_rot, weights)}
        joints = motion_joints(features)[0]
        terms["motion"] = -config.motion_intensity * (joints[1:] - joints[:-1]).norm(dim=-1).mean()
        terms["latent"] = config.latent_reg * z.pow(2).sum()
        if (
            use_clip
            and render_frames is not None
            and text_feature is not None
            and step % config.clip_every == 0
        ):
            poses = matrix_to_axis_angle(rot[0, clip_idx])
            with compute.autocast():
                verts = body(
                    body_pose=poses[:, 1:].reshape(len(poses), -1), global_orient=poses[:, 0]
                ).vertices
                images = render_frames(verts.float(), faces)
                clip_losses = guidance.clip_loss(images, text_feature).float()
            terms["clip"] = config.lambda_clip * (clip_losses * clip_w.to(device)).sum()
        loss = torch.stack(list(terms.values())).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        rate = (step - start) / max(time.perf_counter() - started, 1e-9)
        losses = {k: v.item() for k, v in terms.items()} | {"total": loss.item()}
        reporter.emit(
            Progress(
                "motion", step, config.optimise_steps, losses, (config.optimise_steps - step) / rate, rate
            )
        )
        if ckpt is not None and (step % config.checkpoint_every == 0 or step == config.optimise_steps):
            _save_state(ckpt, z, opt, step, prompt)
        if step % config.snapshot_every == 0:
            _emit_snapshot(reporter, body, rot[0, -1].detach(), step)
    with torch.no_grad():
        rot, trans = features_to_matrices(vae.decode(z[None], config.num_frames))
        final = matrix_to_axis_angle(rot[0]).cpu()
        grounded = ground(final, trans[0].cpu())
    clip = MotionClip(
        poses=final.numpy().astype(np.float32),
        trans=grounded.numpy().astype(np.float32),
        fps=config.fps,
        name=check_prompt(text),
    )
    return clip, candidates


def _emit_snapshot(reporter: Reporter, body: BodyModel, rot: torch.Tensor, step: int) -> None:
    """The body in the clip's last frame, for a live view."""
    with torch.no_grad():
        pose = matrix_to_axis_angle(rot)[None]
        verts = body(body_pose=pose[:, 1:].reshape(1, -1), global_orient=pose[:, 0]).vertices[0]
    reporter.emit(
        MeshSnapshot(
            "motion", step, verts.cpu().numpy().astype(np.float32), body.faces.cpu().numpy().astype(np.int32)
        )
    )
