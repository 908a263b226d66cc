"""The implicit avatar N' = {f(p), c(p), c_c(p)}: SDF network, grey colour head, texture head, and s.

The SDF network follows NeuS: positional encoding, weight-normalised linear layers, Softplus(β) and a
geometric initialisation that starts the field as a sphere. Both colour heads read the point and the
SDF network's feature vector; they are view-independent so that the texture head colours a mesh.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from avatarclip_studio.neus.config import NeusConfig
from avatarclip_studio.neus.encoding import PositionalEncoding
from avatarclip_studio.utils.atomic import atomic_path
from avatarclip_studio.utils.checkpoints import build_checked, load_weights_only


class FieldFileError(ValueError):
    """A saved field that cannot be loaded; the message names the file."""


ARCHITECTURE = ("sdf_layers", "sdf_width", "color_layers", "color_width")
"""The settings that size the networks (checked before a saved field is rebuilt)."""


def _linear(in_dim: int, out_dim: int) -> nn.Linear:
    return nn.Linear(in_dim, out_dim)


class SoftplusWithSlope(torch.autograd.Function):
    """``z → (softplus_β(z), σ(βz))``: the activation and its slope, with a first-order backward.

    The slope feeds the hand-written ∇f of :meth:`SDFNetwork.forward_with_gradient`, so training needs
    one backward pass instead of autograd's double backward through Softplus (the costliest op there).
    """

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx, z: torch.Tensor, beta: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        slope = torch.sigmoid(z * beta)
        ctx.save_for_backward(slope)
        ctx.beta = beta  # type: ignore[attr-defined]
        ctx.set_materialize_grads(False)
        # softplus from the slope: relu(z) + log1p(exp(−β|z|))/β = relu(z) − log(max(σ, 1 − σ))/β. One
        # transcendental pass instead of two, and no exp of large arguments (slow on the CPU, bf16 worst)
        tail = torch.maximum(slope, 1.0 - slope).log_().div_(-beta)
        return tail.add_(torch.relu(z)), slope

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: torch.autograd.function.FunctionCtx,
        grad_out: torch.Tensor | None,
        grad_slope: torch.Tensor | None,
    ) -> tuple[torch.Tensor | None, None]:
        (slope,) = ctx.saved_tensors  # type: ignore[attr-defined]
        beta = ctx.beta  # type: ignore[attr-defined]
        grad = None if grad_out is None else grad_out * slope
        if grad_slope is not None:  # dσ(βz)/dz = β σ (1 − σ)
            variance = slope - slope * slope
            grad = (
                grad_slope.mul(variance).mul_(beta)
                if grad is None
                else grad.addcmul_(grad_slope, variance, value=beta)
            )
        return grad, None


class SDFNetwork(nn.Module):
    """``points (N, 3) → (sdf (N,), features (N, width))``, geometrically initialised to a sphere."""

    def __init__(self, config: NeusConfig) -> None:
        super().__init__()
        self.encoding = PositionalEncoding(config.pe_frequencies)
        width = config.sdf_width
        dims = [self.encoding.out_dim] + [width] * config.sdf_layers + [1 + width]
        layers = []
        for i, (d_in, d_out) in enumerate(itertools.pairwise(dims)):
            layer = _linear(d_in, d_out)
            # geometric init (Atzmon & Lipman; NeuS): the network starts as |p| − radius
            if i == len(dims) - 2:
                nn.init.normal_(layer.weight, mean=math.sqrt(math.pi) / math.sqrt(d_in), std=1e-4)
                nn.init.constant_(layer.bias, -config.sphere_radius)
            else:
                nn.init.normal_(layer.weight, 0.0, math.sqrt(2.0) / math.sqrt(d_out))
                nn.init.constant_(layer.bias, 0.0)
                if i == 0:
                    nn.init.constant_(layer.weight[:, 3:], 0.0)  # encoding starts silent: a smooth sphere
            layers.append(weight_norm(layer))
        self.layers = nn.ModuleList(layers)
        self.activation = nn.Softplus(beta=config.softplus_beta)

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.encoding(points)
        beta = self.activation.beta
        for layer in self.layers[:-1]:
            x = SoftplusWithSlope.apply(layer(x), beta)[0]
        out = self.layers[-1](x)
        return out[:, 0], out[:, 1:]

    def forward_with_gradient(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``points (N, 3) → (sdf (N,), ∇f (N, 3), features (N, width))``, ∇f by reverse mode written out:
        ``∂f/∂x_l = (∂f/∂x_{l+1} ⊙ σ(βz_l)) W_l`` down to the encoding, whose derivative is analytic.
        Differentiable w.r.t. the parameters through a first-order backward (no double backward)."""
        x, sin, cos = self.encoding.forward_with_waves(points)
        linears = cast(list[nn.Linear], list(self.layers))
        weights, slopes = [], []
        for layer in linears[:-1]:
            weight = layer.weight  # weight norm: computed once, used forward and backward
            x, slope = SoftplusWithSlope.apply(F.linear(x, weight, layer.bias), self.activation.beta)
            weights.append(weight)
            slopes.append(slope)
        last = linears[-1].weight
        out = F.linear(x, last, linears[-1].bias)
        grad = last[0].to(x.dtype).expand_as(x)  # under autocast the whole chain stays bf16
        for weight, slope in zip(reversed(weights), reversed(slopes), strict=True):
            grad = (grad * slope) @ weight
        return out[:, 0], self.encoding.backward_to_points(grad, sin, cos), out[:, 1:]


class ColorHead(nn.Module):
    """``(points (N, 3), features (N, F)) → rgb (N, 3)`` in [0, 1]."""

    def __init__(self, feature_dim: int, config: NeusConfig) -> None:
        super().__init__()
        dims = [3 + feature_dim] + [config.color_width] * config.color_layers + [3]
        self.layers = nn.ModuleList(
            weight_norm(_linear(d_in, d_out)) for d_in, d_out in itertools.pairwise(dims)
        )

    def forward(self, points: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        x = torch.cat([points.to(features.dtype), features], dim=-1)
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return torch.sigmoid(self.layers[-1](x))


class NeusAvatarField(nn.Module):
    """SDF f (negative inside), grey head c (the template), texture head c_c, inverse deviation s."""

    def __init__(self, config: NeusConfig) -> None:
        super().__init__()
        self.config = config
        self.sdf_network = SDFNetwork(config)
        self.color_head = ColorHead(config.sdf_width, config)
        self.texture_head = ColorHead(config.sdf_width, config)
        self.variance = nn.Parameter(torch.tensor(config.init_inv_deviation))

    @property
    def inv_s(self) -> torch.Tensor:
        """The learned inverse deviation s = exp(10 v), a scalar tensor (NeuS's parameterisation)."""
        return torch.exp(10.0 * self.variance).clamp(1e-6, 1e6)

    def sdf(self, points: torch.Tensor) -> torch.Tensor:
        """``points (N, 3) → sdf (N,)``, metres, negative inside."""
        return self.sdf_network(points)[0].float()

    def sdf_and_gradient(
        self, points: torch.Tensor, create_graph: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``points (N, 3) → (sdf (N,), ∇f (N, 3), features (N, F))``.

        ``create_graph`` keeps the gradient differentiable w.r.t. the parameters (eikonal term, normals).
        """
        with torch.set_grad_enabled(create_graph):
            sdf, grad, features = self.sdf_network.forward_with_gradient(points.detach())
        return sdf.float(), grad.float(), features

    def color(self, points: torch.Tensor) -> torch.Tensor:
        """``points (N, 3) → (N, 3)``: the grey template head c(p)."""
        return self.color_head(points, self.sdf_network(points)[1]).float()

    def texture(self, points: torch.Tensor) -> torch.Tensor:
        """``points (N, 3) → (N, 3)``: the texture head c_c(p), used for the mesh's vertex colours."""
        return self.texture_head(points, self.sdf_network(points)[1]).float()

    def save(self, path: str | Path) -> None:
        """Config and weights in one file, written atomically."""
        payload = {"config": asdict(self.config), "state": self.state_dict()}
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str = "cpu") -> NeusAvatarField:
        payload = load_weights_only(path, FieldFileError, "saved NeuS avatar field", device)
        if not isinstance(payload, dict) or not isinstance(payload.get("config"), dict):
            raise FieldFileError(f"{path}: not a saved NeuS avatar field (no config in it)")
        try:
            config = NeusConfig(**payload["config"])
        except TypeError as exc:
            raise FieldFileError(f"{path}: saved with settings this version does not know ({exc})") from exc
        sizes = {k: getattr(config, k) for k in ARCHITECTURE}
        return build_checked(lambda: cls(config), payload.get("state"), sizes, path, FieldFileError).to(
            device
        )
