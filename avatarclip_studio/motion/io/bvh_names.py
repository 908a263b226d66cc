"""Joint-name tables that map common BVH skeletons onto SMPL's 24 joints.

Names are compared normalised: lower case, namespace prefixes dropped (``mixamorig:Hips`` -> ``hips``), then
only letters and digits kept (``upper_arm.L`` -> ``upperarml``). Skeleton families disagree on words (a
Mixamo ``LeftShoulder`` is SMPL's collar, a Biovision ``LeftShoulder`` is SMPL's shoulder), so the
family that matches the most joints of a file is used for all of them.
"""

from __future__ import annotations

import re

from avatarclip_studio.body.skeleton import JOINT_NAMES


def _sided(table: dict[str, str]) -> dict[str, str]:
    """Expand ``{"{L}upleg": "{side}_hip"}`` patterns into both sides; ``{L}`` / ``{l}`` mark the side."""
    out: dict[str, str] = {}
    for pattern, smpl in table.items():
        if "{" not in pattern and "{" not in smpl:
            out[pattern] = smpl
            continue
        for side, long, short in (("left", "left", "l"), ("right", "right", "r")):
            name = pattern.replace("{L}", long).replace("{l}", short)
            out[name] = smpl.replace("{side}", side)
    return out


FAMILIES: dict[str, dict[str, str]] = {
    "smpl": {_n.replace("_", ""): _n for _n in JOINT_NAMES}
    | _sided({"{L}collar": "{side}_collar", "{L}hand": "{side}_hand", "{L}toe": "{side}_foot"}),
    "mixamo": _sided(
        {
            "hips": "pelvis",
            "spine": "spine1",
            "spine1": "spine2",
            "spine2": "spine3",
            "chest": "spine3",
            "neck": "neck",
            "head": "head",
            "{L}upleg": "{side}_hip",
            "{L}leg": "{side}_knee",
            "{L}foot": "{side}_ankle",
            "{L}toebase": "{side}_foot",
            "{L}shoulder": "{side}_collar",
            "{L}arm": "{side}_shoulder",
            "{L}forearm": "{side}_elbow",
            "{L}hand": "{side}_wrist",
            "{L}handmiddle1": "{side}_hand",
        }
    ),
    # CMU mocap as converted to BVH: an extra lower-back joint shifts the spine names
    "cmu": _sided(
        {
            "hips": "pelvis",
            "lowerback": "spine1",
            "spine": "spine2",
            "spine1": "spine3",
            "neck": "neck",
            "head": "head",
            "{L}upleg": "{side}_hip",
            "{L}leg": "{side}_knee",
            "{L}foot": "{side}_ankle",
            "{L}toebase": "{side}_foot",
            "{L}shoulder": "{side}_collar",
            "{L}arm": "{side}_shoulder",
            "{L}forearm": "{side}_elbow",
            "{L}hand": "{side}_wrist",
            "{L}fingerbase": "{side}_hand",
        }
    ),
    "biovision": _sided(
        {
            "hips": "pelvis",
            "chest": "spine1",
            "chest2": "spine2",
            "chest3": "spine3",
            "neck": "neck",
            "head": "head",
            "{L}hip": "{side}_hip",
            "{L}knee": "{side}_knee",
            "{L}ankle": "{side}_ankle",
            "{L}toe": "{side}_foot",
            "{L}collar": "{side}_collar",
            "{L}shoulder": "{side}_shoulder",
            "{L}elbow": "{side}_elbow",
            "{L}wrist": "{side}_wrist",
        }
    ),
    # Daz / Poser / MakeHuman-exported BVH
    "daz": _sided(
        {
            "hip": "pelvis",
            "abdomen": "spine1",
            "abdomenlower": "spine1",
            "abdomenupper": "spine2",
            "chest": "spine3",
            "chestupper": "spine3",
            "neck": "neck",
            "necklower": "neck",
            "head": "head",
            "{l}thigh": "{side}_hip",
            "{l}thighbend": "{side}_hip",
            "{l}shin": "{side}_knee",
            "{l}foot": "{side}_ankle",
            "{l}toe": "{side}_foot",
            "{l}collar": "{side}_collar",
            "{l}shldr": "{side}_shoulder",
            "{l}shldrbend": "{side}_shoulder",
            "{l}forearm": "{side}_elbow",
            "{l}forearmbend": "{side}_elbow",
            "{l}hand": "{side}_wrist",
        }
    ),
    # Blender / Rigify-style deform bones: side as a suffix (thigh.L)
    "blender": {
        "hips": "pelvis",
        "pelvis": "pelvis",
        "root": "pelvis",
        "spine": "spine1",
        "spine001": "spine2",
        "spine002": "spine3",
        "spine003": "spine3",
        "neck": "neck",
        "head": "head",
    }
    | {
        f"{bone}{s}": f"{side}_{smpl}"
        for s, side in (("l", "left"), ("r", "right"))
        for bone, smpl in (
            ("thigh", "hip"),
            ("shin", "knee"),
            ("foot", "ankle"),
            ("toe", "foot"),
            ("shoulder", "collar"),
            ("upperarm", "shoulder"),
            ("forearm", "elbow"),
            ("hand", "wrist"),
        )
    },
}

_PREFIXES = ("mixamorig", "bip01", "bip001", "def", "character1", "jnt")


def normalise(name: str) -> str:
    """Lower case, without a ``namespace:`` prefix or punctuation, without a common rig prefix."""
    base = re.sub(r"[^a-z0-9]", "", name.rsplit(":", 1)[-1].lower())
    for prefix in _PREFIXES:
        if base.startswith(prefix) and len(base) > len(prefix) + 2:
            return base[len(prefix) :]
    return base


def map_joint_names(names: list[str]) -> tuple[str, dict[int, int]]:
    """Best family and its mapping SMPL joint index -> index into ``names`` (first match wins)."""
    keys = [normalise(n) for n in names]
    best_family, best = "", dict[int, int]()
    for family, table in FAMILIES.items():
        mapping: dict[int, int] = {}
        for i, key in enumerate(keys):
            smpl = table.get(key)
            if smpl is not None:
                mapping.setdefault(JOINT_NAMES.index(smpl), i)
        if len(mapping) > len(best):
            best_family, best = family, mapping
    return best_family, best
