"""What the offline model's training renders show: poses, body regions, clothing colours, shapes.

A scene is a record of attributes (shape words, region colours, pose name) that both the renderer and
the caption grammar read, so every caption is true of its image by construction.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np
import torch

from avatarclip_studio.body.skeleton import JOINT_INDEX, MIRROR_PAIRS, NUM_BODY_JOINTS
from avatarclip_studio.utils.rotations import euler_to_matrix, matrix_to_axis_angle

# Poses as Euler angles in degrees per joint (R = Rx @ Ry @ Rz). SMPL axes: x to the body's left,
# y up, z forward; a negative z rotation lowers the left arm, a negative x rotation lifts a thigh.
_ARMS_DOWN: dict[str, tuple[float, float, float]] = {
    "left_shoulder": (0, 0, -70),
    "right_shoulder": (0, 0, 70),
}
POSES: dict[str, dict[str, tuple[float, float, float]]] = {
    "t-pose": {},
    "standing": _ARMS_DOWN,
    "arms raised": {"left_shoulder": (0, 0, 75), "right_shoulder": (0, 0, -75)},
    "one arm raised": {"left_shoulder": (0, 0, 75), "right_shoulder": (0, 0, 70)},
    "waving": {"left_shoulder": (0, 0, -70), "right_shoulder": (0, 0, -10), "right_elbow": (0, 0, -90)},
    "pointing": {"left_shoulder": (0, 0, -70), "right_shoulder": (0, 80, 0)},
    "squatting": {
        "left_hip": (-100, 0, -10),
        "right_hip": (-100, 0, 10),
        "left_knee": (120, 0, 0),
        "right_knee": (120, 0, 0),
        "spine1": (20, 0, 0),
        "left_shoulder": (0, -75, -10),
        "right_shoulder": (0, 75, 10),
    },
    "sitting": {
        "left_hip": (-90, 0, 0),
        "right_hip": (-90, 0, 0),
        "left_knee": (90, 0, 0),
        "right_knee": (90, 0, 0),
        **_ARMS_DOWN,
    },
    "kicking": {
        "right_hip": (-80, 0, 0),
        "right_knee": (10, 0, 0),
        "left_shoulder": (0, 0, -40),
        "right_shoulder": (0, 0, 40),
    },
    "walking": {
        "left_hip": (-25, 0, 0),
        "right_hip": (20, 0, 0),
        "right_knee": (30, 0, 0),
        "left_shoulder": (25, 0, -72),
        "right_shoulder": (-25, 0, 72),
    },
    "running": {
        "left_hip": (-55, 0, 0),
        "left_knee": (60, 0, 0),
        "right_hip": (30, 0, 0),
        "right_knee": (80, 0, 0),
        "left_shoulder": (50, 0, -70),
        "right_shoulder": (-50, 0, 70),
        "left_elbow": (0, 80, 0),
        "right_elbow": (0, -80, 0),
        "spine1": (10, 0, 0),
    },
    "bowing": {"spine1": (35, 0, 0), "spine2": (20, 0, 0), "spine3": (15, 0, 0), **_ARMS_DOWN},
}

# Region of each joint's dominant skinning weight; the head is split into hair and face below.
SHIRT_JOINTS = (
    "spine1",
    "spine2",
    "spine3",
    "left_collar",
    "right_collar",
    "left_shoulder",
    "right_shoulder",
)
TROUSER_JOINTS = ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee")
SHOE_JOINTS = ("left_ankle", "right_ankle", "left_foot", "right_foot")
SLEEVE_JOINTS = ("left_elbow", "right_elbow")

# Colour words → RGB prototypes in [0, 1]; sampled colours are jittered around them.
COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.8, 0.08, 0.08),
    "blue": (0.1, 0.2, 0.8),
    "green": (0.1, 0.6, 0.15),
    "yellow": (0.95, 0.85, 0.1),
    "orange": (0.95, 0.5, 0.05),
    "purple": (0.5, 0.15, 0.65),
    "pink": (0.95, 0.5, 0.7),
    "black": (0.05, 0.05, 0.05),
    "white": (0.95, 0.95, 0.95),
    "grey": (0.5, 0.5, 0.5),
    "brown": (0.45, 0.28, 0.12),
}
SKIN_TONES: dict[str, tuple[float, float, float]] = {
    "pale": (0.96, 0.84, 0.76),
    "tan": (0.82, 0.62, 0.45),
    "brown": (0.55, 0.36, 0.22),
    "dark": (0.3, 0.2, 0.13),
}
HAIR_COLORS: dict[str, tuple[float, float, float]] = {
    "black": (0.04, 0.03, 0.03),
    "brown": (0.35, 0.2, 0.1),
    "blonde": (0.9, 0.78, 0.45),
    "red": (0.7, 0.25, 0.08),
    "grey": (0.65, 0.65, 0.65),
}
GREY_ALBEDO = 0.75


@dataclass(frozen=True)
class Scene:
    """One training render's content; ``None`` colours mean an untextured (grey-shaded) render."""

    betas: tuple[float, float, float]
    """height, weight, muscle coefficients of the body (first three betas)."""
    pose: str
    mirrored: bool
    shirt: str | None
    trousers: str | None
    shoes: str | None
    skin: str | None
    hair: str | None
    long_sleeves: bool

    @property
    def textured(self) -> bool:
        return self.shirt is not None

    def shape_words(self) -> dict[str, str]:
        """Which shape adjectives are true: keys 'height', 'weight', 'muscle'; values 'high' or 'low'."""
        words = {}
        for name, value in zip(("height", "weight", "muscle"), self.betas, strict=True):
            if value > 1.0:
                words[name] = "high"
            elif value < -1.0:
                words[name] = "low"
        return words


def sample_scene(rng: np.random.Generator, textured: bool) -> Scene:
    """A random scene; shape coefficients spread wide so 'tall', 'thin', ... are often true."""
    betas = tuple(float(b) for b in np.clip(rng.normal(0.0, 1.4, 3), -2.5, 2.5))
    muscle = betas[2] if betas[2] > -1.0 else 0.0  # "not muscular" is not a thing captions say
    pick = lambda options: str(rng.choice(list(options)))  # noqa: E731
    return Scene(
        betas=(betas[0], betas[1], muscle),
        pose=pick(POSES),
        mirrored=bool(rng.random() < 0.5),
        shirt=pick(COLORS) if textured else None,
        trousers=pick(COLORS) if textured else None,
        shoes=pick(COLORS) if textured else None,
        skin=pick(SKIN_TONES) if textured else None,
        hair=pick(HAIR_COLORS) if textured else None,
        long_sleeves=bool(rng.random() < 0.5),
    )


def pose_vector(name: str, mirrored: bool, noise: np.ndarray) -> torch.Tensor:
    """(69,) SMPL body pose (axis-angle) of a named pose, optionally mirrored, plus ``noise (23,3)`` rad."""
    euler = torch.zeros(NUM_BODY_JOINTS + 1, 3)
    for joint, angles in POSES[name].items():
        euler[JOINT_INDEX[joint]] = torch.tensor(angles, dtype=torch.float32)
    aa = matrix_to_axis_angle(euler_to_matrix(euler, order="XYZ", degrees=True))
    if mirrored:
        swapped = aa.clone()
        for left, right in MIRROR_PAIRS:
            swapped[left], swapped[right] = aa[right], aa[left]
        aa = swapped * torch.tensor([1.0, -1.0, -1.0])  # reflect x: keep the x component, flip y and z
    return (aa[1:] + torch.as_tensor(noise, dtype=torch.float32)).reshape(-1)


REGIONS = ("skin", "shirt", "trousers", "shoes", "hair")
"""Region names in the order of :func:`region_labels`' codes 0–4."""
SLEEVE = 5
"""Label code of the forearms: shirt with long sleeves, skin with short ones."""


def region_labels(
    lbs_weights: torch.Tensor, rest_vertices: torch.Tensor, head_joint: torch.Tensor
) -> torch.Tensor:
    """(V,) region per vertex: 0 skin, 1 shirt, 2 trousers, 3 shoes, 4 hair, 5 sleeve (shirt or skin).

    From each vertex's dominant joint; the head's top and back (above/behind the joint, T-pose) is hair.
    """
    joint_of = lbs_weights.argmax(dim=1)
    labels = torch.zeros_like(joint_of)
    for region, joints in ((1, SHIRT_JOINTS), (2, TROUSER_JOINTS), (3, SHOE_JOINTS), (5, SLEEVE_JOINTS)):
        for name in joints:
            labels[joint_of == JOINT_INDEX[name]] = region
    rel = rest_vertices - head_joint
    head = joint_of == JOINT_INDEX["head"]
    labels[head & ((rel[:, 1] > 0.07) | ((rel[:, 2] < -0.02) & (rel[:, 1] > -0.03)))] = 4
    return labels


def jitter_color(rgb: tuple[float, float, float], rng: np.random.Generator) -> np.ndarray:
    """A colour near a prototype: small hue/saturation/value jitter, so a word names a range."""
    h, s, v = colorsys.rgb_to_hsv(*rgb)
    h = (h + rng.normal(0, 0.02)) % 1.0
    s = float(np.clip(s + rng.normal(0, 0.08), 0, 1))
    v = float(np.clip(v * np.exp(rng.normal(0, 0.12)), 0, 1))
    return np.array(colorsys.hsv_to_rgb(h, s, v), dtype=np.float32)


def vertex_colors(scene: Scene, labels: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """(V,3) albedo of a scene: region colours, or uniform grey for an untextured render."""
    if not scene.textured:
        return torch.full((labels.shape[0], 3), GREY_ALBEDO)
    assert scene.shirt and scene.trousers and scene.shoes and scene.skin and scene.hair
    palette = [
        jitter_color(SKIN_TONES[scene.skin], rng),
        jitter_color(COLORS[scene.shirt], rng),
        jitter_color(COLORS[scene.trousers], rng),
        jitter_color(COLORS[scene.shoes], rng),
        jitter_color(HAIR_COLORS[scene.hair], rng),
    ]
    palette.append(palette[1] if scene.long_sleeves else palette[0])
    return torch.as_tensor(np.stack(palette))[labels]
