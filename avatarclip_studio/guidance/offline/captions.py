"""Caption grammar for the offline model: true sentences about a :class:`Scene`, many phrasings.

Words and sentence frames come in two sets: ``train`` (used for training) and ``heldout`` (never seen in
training; the benchmark checks that the frozen text tower carries the model over to them, e.g.
"crimson" for red).
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np

from avatarclip_studio.guidance.base import APPEARANCE_TEMPLATE, MOTION_TEMPLATE
from avatarclip_studio.guidance.offline.scenes import Scene

Split = Literal["train", "heldout"]

COLOR_WORDS: dict[str, dict[Split, tuple[str, ...]]] = {
    "red": {"train": ("red", "scarlet"), "heldout": ("crimson",)},
    "blue": {"train": ("blue", "royal blue"), "heldout": ("navy blue",)},
    "green": {"train": ("green", "forest green"), "heldout": ("emerald",)},
    "yellow": {"train": ("yellow", "lemon yellow"), "heldout": ("golden yellow",)},
    "orange": {"train": ("orange",), "heldout": ("tangerine",)},
    "purple": {"train": ("purple", "violet"), "heldout": ("lavender purple",)},
    "pink": {"train": ("pink",), "heldout": ("rose pink",)},
    "black": {"train": ("black", "dark"), "heldout": ("jet black",)},
    "white": {"train": ("white",), "heldout": ("snow white",)},
    "grey": {"train": ("grey", "gray"), "heldout": ("silver",)},
    "brown": {"train": ("brown",), "heldout": ("chocolate brown",)},
}
SKIN_WORDS: dict[str, tuple[str, ...]] = {
    "pale": ("pale", "fair", "light"),
    "tan": ("tan", "olive"),
    "brown": ("brown",),
    "dark": ("dark", "very dark"),
}
HAIR_WORDS: dict[str, tuple[str, ...]] = {
    "black": ("black",),
    "brown": ("brown",),
    "blonde": ("blonde", "blond", "golden"),
    "red": ("red", "ginger"),
    "grey": ("grey", "white"),
}
SHAPE_WORDS: dict[tuple[str, str], dict[Split, tuple[str, ...]]] = {
    ("height", "high"): {"train": ("tall", "very tall"), "heldout": ("towering",)},
    ("height", "low"): {"train": ("short", "small"), "heldout": ("petite",)},
    ("weight", "high"): {"train": ("fat", "heavy", "overweight"), "heldout": ("chubby",)},
    ("weight", "low"): {"train": ("thin", "skinny", "slim"), "heldout": ("slender",)},
    ("muscle", "high"): {"train": ("muscular", "strong", "athletic"), "heldout": ("buff",)},
}
POSE_WORDS: dict[str, dict[Split, tuple[str, ...]]] = {
    "t-pose": {
        "train": ("in a T-pose", "with arms stretched out to the sides"),
        "heldout": ("with arms spread wide",),
    },
    "standing": {
        "train": ("standing", "standing still", "standing with arms down"),
        "heldout": ("standing upright",),
    },
    "arms raised": {
        "train": ("raising both arms", "with both hands up"),
        "heldout": ("with arms in the air",),
    },
    "one arm raised": {"train": ("raising one arm", "with one hand up"), "heldout": ("lifting a hand",)},
    "waving": {"train": ("waving", "waving hello"), "heldout": ("waving goodbye",)},
    "pointing": {"train": ("pointing forward", "pointing"), "heldout": ("pointing ahead",)},
    "squatting": {"train": ("squatting", "doing a squat"), "heldout": ("crouching",)},
    "sitting": {"train": ("sitting", "sitting down"), "heldout": ("seated",)},
    "kicking": {"train": ("kicking", "doing a kick"), "heldout": ("kicking a ball",)},
    "walking": {"train": ("walking", "taking a step"), "heldout": ("strolling",)},
    "running": {"train": ("running", "jogging"), "heldout": ("sprinting",)},
    "bowing": {"train": ("bowing", "bending forward"), "heldout": ("leaning forward",)},
}
NOUNS: dict[Split, tuple[str, ...]] = {
    "train": ("person", "man", "woman", "human"),
    "heldout": ("guy", "lady"),
}
SHIRT: dict[Split, tuple[str, ...]] = {
    "train": ("in a {} shirt", "wearing a {} shirt", "in a {} t-shirt", "with a {} top"),
    "heldout": ("dressed in a {} sweater",),
}
TROUSERS: dict[Split, tuple[str, ...]] = {
    "train": ("{} trousers", "{} pants"),
    "heldout": ("{} slacks",),
}
SHOES: dict[Split, tuple[str, ...]] = {"train": ("{} shoes", "{} sneakers"), "heldout": ("{} boots",)}


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def describe(scene: Scene, rng: np.random.Generator, split: Split = "train", full: bool = False) -> str:
    """One random true caption of ``scene``: a few attributes (all of them with ``full``), one phrasing."""
    adjectives = [_pick(rng, SHAPE_WORDS[key][split]) for key in scene.shape_words().items()]
    clothes: list[str] = []
    if scene.textured:
        assert scene.shirt and scene.trousers and scene.shoes and scene.skin and scene.hair
        color = lambda name: _pick(rng, COLOR_WORDS[name][split])  # noqa: E731
        clothes = [
            _pick(rng, SHIRT[split]).format(color(scene.shirt)),
            "wearing " + _pick(rng, TROUSERS[split]).format(color(scene.trousers)),
            "wearing " + _pick(rng, SHOES[split]).format(color(scene.shoes)),
            f"with {_pick(rng, HAIR_WORDS[scene.hair])} hair",
            f"with {_pick(rng, SKIN_WORDS[scene.skin])} skin",
        ]
    pose = _pick(rng, POSE_WORDS[scene.pose][split])
    if not full:
        # mostly short captions about one or two things, like the prompts people type
        rng.shuffle(adjectives)
        adjectives = adjectives[: int(rng.integers(0, len(adjectives) + 1))]
        if clothes:
            weights = np.array([4.0, 2.0, 1.5, 1.0, 1.0])
            keep = int(rng.integers(0 if adjectives else 1, 3))
            chosen = rng.choice(len(clothes), size=keep, replace=False, p=weights / weights.sum())
            clothes = [clothes[i] for i in sorted(chosen)]
        if rng.random() < 0.5 and (adjectives or clothes):
            pose = ""
    subject = _article(" ".join([*adjectives, _pick(rng, NOUNS[split])]))
    worn = [i for i, c in enumerate(clothes) if c.startswith("wearing ")]
    clothes = [c.removeprefix("wearing ") if i in worn[1:] else c for i, c in enumerate(clothes)]
    detail = " and ".join(clothes)
    text = re.sub(r"\ba ([aeiou])", r"an \1", " ".join(part for part in (subject, detail, pose) if part))
    roll = rng.random()
    if split == "train" and roll < 0.25:
        return APPEARANCE_TEMPLATE.format(text)
    if split == "train" and roll < 0.35 and pose:
        return MOTION_TEMPLATE.format(pose)
    return text
