"""NeuS volume rendering with empty-space skipping: fixed-step marching inside occupied cells, packed samples.

Each ray is marched at a fixed step through the scene cube; only samples inside occupied cells are kept,
packed into flat tensors with their ray index. Before the network sees them, samples outside the window
around the first surface each ray meets (judged from the grid's interpolated SDF) are dropped, then a
forward-only pass drops the samples whose weight is negligible; only the rest are evaluated with
gradients. Opacity follows NeuS: the logistic CDF Φ_s of the SDF estimated at both ends of each section,
``α = max((Φ(f_prev) − Φ(f_next)) / Φ(f_prev), 0)``, and the per-ray transmittance is an exclusive
cumulative product computed as a segmented log-sum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from avatarclip_studio.device import Compute
from avatarclip_studio.neus.fields import NeusAvatarField
from avatarclip_studio.neus.occupancy import OccupancyGrid

NO_GRAPH_CHUNK = 65536
"""Samples per network call when no parameter graph is kept (bounds memory of previews and references)."""
PRUNE_WEIGHT = 1e-3
"""Every render first weighs its samples with a forward-only pass and drops those below this weight
(hidden behind the surface or far from it): the pass with gradients sees several times fewer samples."""
WINDOW_MARGIN = 0.01
"""Slack of the surface window (metres) for the surface's motion since the grid's last update and the
grid's interpolation error (which mostly errs wide: it rounds off the SDF's deepest points)."""


@dataclass(frozen=True)
class RaySamples:
    """Packed samples of a ray bundle, sorted by ray then depth."""

    ray_index: torch.Tensor  # (M,) long
    t: torch.Tensor  # (M,) depth along the ray, metres
    points: torch.Tensor  # (M, 3)
    directions: torch.Tensor  # (M, 3) unit ray directions
    step: float


@dataclass(frozen=True)
class RenderOutput:
    """Per-ray results, premultiplied by opacity (composite over a background with ``+ (1 − opacity)·bg``)."""

    color: torch.Tensor | None  # (N, 3) ∫ w c, or None when not asked
    texture: torch.Tensor | None  # (N, 3) ∫ w c_c, or None when not asked
    normal: torch.Tensor  # (N, 3) ∫ w ∇f
    opacity: torch.Tensor  # (N,) ∫ w: the silhouette
    depth: torch.Tensor  # (N,) ∫ w t
    eikonal: torch.Tensor  # () mean (|∇f| − 1)² over the samples; 0 without samples
    num_samples: int


def march(origins: torch.Tensor, directions: torch.Tensor, grid: OccupancyGrid, step: float) -> RaySamples:
    """Fixed-step samples of rays ``(N, 3)`` inside the grid's cube, kept only in occupied cells."""
    r = grid.radius
    safe = torch.where(directions.abs() < 1e-9, torch.full_like(directions, 1e-9), directions)
    t0 = (-r - origins) / safe
    t1 = (r - origins) / safe
    t_near = torch.minimum(t0, t1).amax(dim=-1).clamp_min(0.0)
    t_far = torch.maximum(t0, t1).amin(dim=-1)
    hits = torch.nonzero(t_far > t_near).squeeze(-1)
    steps = math.ceil(2.0 * math.sqrt(3.0) * r / step)
    offsets = (torch.arange(steps, device=origins.device, dtype=torch.float32) + 0.5) * step
    kept_rays, kept_t = [], []
    for rays in hits.split(max(1, 4_000_000 // steps)):  # bounds the (rays × steps) candidate tensor
        t = t_near[rays, None] + offsets  # (n, S)
        pts = origins[rays, None, :] + t[..., None] * directions[rays, None, :]
        keep = (t < t_far[rays, None]) & grid.contains(pts.reshape(-1, 3)).reshape(t.shape)
        row, col = torch.nonzero(keep, as_tuple=True)
        kept_rays.append(rays[row])
        kept_t.append(t[row, col])
    ray_index = torch.cat(kept_rays) if kept_rays else torch.zeros(0, dtype=torch.long, device=origins.device)
    t_all = torch.cat(kept_t) if kept_t else torch.zeros(0, device=origins.device)
    dirs = directions[ray_index]
    return RaySamples(ray_index, t_all, origins[ray_index] + t_all[:, None] * dirs, dirs, step)


def neus_alpha(
    sdf: torch.Tensor, grad: torch.Tensor, dirs: torch.Tensor, step: float, inv_s: torch.Tensor
) -> torch.Tensor:
    """NeuS section opacity from the SDF ``(M,)`` and gradient ``(M, 3)`` at section midpoints → ``(M,)``."""
    cos = -torch.relu(-(dirs * grad).sum(-1))  # only the entering side counts (NeuS, annealed to 1)
    prev_cdf = torch.sigmoid((sdf - cos * step * 0.5) * inv_s)
    next_cdf = torch.sigmoid((sdf + cos * step * 0.5) * inv_s)
    return ((prev_cdf - next_cdf + 1e-5) / (prev_cdf + 1e-5)).clamp(0.0, 1.0)


def exclusive_ray_cumsum(values: torch.Tensor, ray_index: torch.Tensor, num_rays: int) -> torch.Tensor:
    """Per ray, the sum of the values before each sample, for packed, ray-sorted samples ``(M,)`` → ``(M,)``
    (one global cumulative sum, less its value where the sample's ray starts)."""
    if values.numel() == 0:
        return values
    exclusive = torch.cumsum(values, dim=0) - values
    first = torch.full((num_rays,), values.numel(), dtype=torch.long, device=values.device)
    first = first.scatter_reduce(0, ray_index, torch.arange(values.numel(), device=values.device), "amin")
    start = exclusive[first.clamp(max=values.numel() - 1)]
    return exclusive - start[ray_index]


def packed_weights(alpha: torch.Tensor, ray_index: torch.Tensor, num_rays: int) -> torch.Tensor:
    """``w_i = α_i ∏_{j<i} (1 − α_j)`` per ray for packed, ray-sorted samples ``(M,)`` → ``(M,)``.

    The product is a segmented sum of logs in float64 (a float32 running sum over ~10⁶ samples drifts).
    """
    if alpha.numel() == 0:  # every ray missed the occupied cells (e.g. a view of empty space)
        return alpha
    log_t = torch.log1p(-alpha.double().clamp(max=1.0 - 1e-7))
    transmittance = torch.exp(exclusive_ray_cumsum(log_t, ray_index, num_rays)).to(alpha.dtype)
    return alpha * transmittance


def _accumulate(
    values: torch.Tensor, weights: torch.Tensor, ray_index: torch.Tensor, num_rays: int
) -> torch.Tensor:
    out = values.new_zeros((num_rays, *values.shape[1:]))
    w = weights if values.ndim == 1 else weights[:, None]
    return out.index_add(0, ray_index, w * values)


def _subset(samples: RaySamples, keep: torch.Tensor) -> RaySamples:
    return RaySamples(
        samples.ray_index[keep], samples.t[keep], samples.points[keep], samples.directions[keep], samples.step
    )


def surface_window(samples: RaySamples, grid: OccupancyGrid, inv_s: float, num_rays: int) -> torch.Tensor:
    """``(M,)`` bool: the samples the weight pruning could keep, judged from the grid's interpolated SDF.

    Under the pruning pass's head-on NeuS opacity, a sample more than ``ln(s·step/ε)/s`` in front of the
    surface has α < ε, and one more than ``ln(1/ε)/s`` behind where the ray entered has transmittance
    < ε (ε = ``PRUNE_WEIGHT``). Samples outside that window, widened by a margin, are dropped before the
    network sees them: most of them lie behind the first surface a ray meets (the body's far side).
    """
    margin = WINDOW_MARGIN
    front = math.log(max(inv_s * samples.step, 1.0) / PRUNE_WEIGHT) / inv_s + margin
    behind = math.log(1.0 / PRUNE_WEIGHT) / inv_s + margin
    sdf = grid.sdf_at(samples.points)
    deep = (sdf < -behind).to(torch.int32)
    # a sample is hidden once its ray has passed a deep-inside sample (this one included)
    passed = exclusive_ray_cumsum(deep, samples.ray_index, num_rays) + deep
    return (sdf < front) & (passed == 0)


def _padded(points: torch.Tensor, compute: Compute) -> torch.Tensor:
    """``points`` with its last row repeated up to :meth:`Compute.batch_rows` rows (results are cut back)."""
    extra = compute.batch_rows(points.shape[0]) - points.shape[0]
    return torch.cat([points, points[-1:].expand(extra, -1)]) if extra > 0 else points


def _sdf_forward(field: NeusAvatarField, points: torch.Tensor, compute: Compute) -> torch.Tensor:
    """The SDF ``(M,)`` at ``points (M, 3)`` without a graph, in chunks (the pruning pass)."""
    values = [points.new_zeros(0)]
    with torch.no_grad(), compute.autocast():
        for pts in points.split(NO_GRAPH_CHUNK):
            values.append(field.sdf(_padded(pts, compute))[: pts.shape[0]])
    return torch.cat(values)


def _evaluate(
    field: NeusAvatarField, points: torch.Tensor, compute: Compute, with_graph: bool, heads: tuple[str, ...]
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """SDF ``(M,)``, gradient ``(M, 3)`` and the asked heads ``(M, 3)`` at ``points (M, 3)``."""
    chunk = max(points.shape[0], 1) if with_graph else NO_GRAPH_CHUNK
    sdfs, grads = [points.new_zeros(0)], [points.new_zeros((0, 3))]
    colors: dict[str, list[torch.Tensor]] = {name: [points.new_zeros((0, 3))] for name in heads}
    for pts in points.split(chunk):
        n, padded = pts.shape[0], _padded(pts, compute)
        with compute.autocast():
            sdf, grad, feats = field.sdf_and_gradient(padded, create_graph=with_graph)
            with torch.set_grad_enabled(with_graph):
                for name in heads:
                    module = field.color_head if name == "color" else field.texture_head
                    colors[name].append(module(padded, feats).float()[:n])
        sdfs.append(sdf[:n])
        grads.append(grad[:n])
    return torch.cat(sdfs), torch.cat(grads), {name: torch.cat(v) for name, v in colors.items()}


def render_rays(
    field: NeusAvatarField,
    origins: torch.Tensor,
    directions: torch.Tensor,
    grid: OccupancyGrid,
    compute: Compute,
    with_graph: bool,
    heads: tuple[str, ...] = ("color", "texture"),
) -> RenderOutput:
    """Render rays ``(N, 3)``; ``with_graph`` keeps gradients to the field's parameters (training).

    ``heads``: which of ``"color"`` (c) and ``"texture"`` (c_c) to integrate.
    """
    if any(h not in ("color", "texture") for h in heads):
        raise ValueError(f"unknown colour heads {heads}; use 'color' and/or 'texture'")
    num_rays = origins.shape[0]
    step = 2.0 * field.config.scene_radius / field.config.samples_per_ray
    samples = march(origins, directions, grid, step)
    if samples.t.numel() and grid.sdf is not None:
        samples = _subset(samples, surface_window(samples, grid, float(field.inv_s.detach()), num_rays))
    if samples.t.numel():
        sdf = _sdf_forward(field, samples.points, compute)
        with torch.no_grad():
            # forward only: the surface is taken as facing the ray (cos = −1) instead of evaluating ∇f
            alpha = neus_alpha(sdf, -samples.directions, samples.directions, step, field.inv_s)
            weights = packed_weights(alpha, samples.ray_index, num_rays)
        samples = _subset(samples, weights > PRUNE_WEIGHT)
    sdf, grad, colors = _evaluate(field, samples.points, compute, with_graph, heads)
    with torch.set_grad_enabled(with_graph):
        alpha = neus_alpha(sdf, grad, samples.directions, step, field.inv_s)
        weights = packed_weights(alpha, samples.ray_index, num_rays)
        idx = samples.ray_index
        eikonal = ((grad.norm(dim=-1) - 1.0) ** 2).mean() if grad.shape[0] else grad.new_zeros(())
        return RenderOutput(
            color=_accumulate(colors["color"], weights, idx, num_rays) if "color" in colors else None,
            texture=_accumulate(colors["texture"], weights, idx, num_rays) if "texture" in colors else None,
            normal=_accumulate(grad, weights, idx, num_rays),
            opacity=_accumulate(weights, torch.ones_like(weights), idx, num_rays),
            depth=_accumulate(samples.t, weights, idx, num_rays),
            eikonal=eikonal,
            num_samples=int(samples.t.shape[0]),
        )
