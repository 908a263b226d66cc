"""A procedural library of everyday actions on the SMPL skeleton (training data and previews).

Each action is a :class:`~avatarclip_studio.motion.keyframes.KeyAction`: key poses with eased
timing, trailing distal joints, joint limits and feet kept on the floor. Arm directions are given for
the left arm; :func:`~avatarclip_studio.motion.keyframes.both` / ``mirror`` make the right one.
"""

from __future__ import annotations

from avatarclip_studio.motion.clip import MotionClip
from avatarclip_studio.motion.keyframes import KeyAction, Pose, both, mirror, render_action

# left upper-arm aim directions (collar frame: x left, y up, z forward)
DOWN = (0.28, -0.96, 0.02)
UP = (0.12, 1.0, 0.05)
SIDE = (1.0, 0.05, 0.0)
FORWARD = (0.12, 0.0, 1.0)
FORWARD_DOWN = (0.15, -0.6, 0.8)
BACK = (0.25, -0.9, -0.4)


def _p(*parts: Pose) -> dict[str, tuple[float, float, float]]:
    out: dict[str, tuple[float, float, float]] = {}
    for part in parts:
        out.update(part)
    return out


def _elbows(flex: float) -> dict[str, tuple[float, float, float]]:
    return both({"left_elbow": (0.0, -flex, 0.0)})


def _legs(hip: float, knee: float, ankle: float = 0.0) -> dict[str, tuple[float, float, float]]:
    return both({"left_hip": (hip, 0.0, 0.0), "left_knee": (knee, 0.0, 0.0), "left_ankle": (ankle, 0.0, 0.0)})


def _stride(
    front_hip: float, front_knee: float, back_hip: float, back_knee: float, arm: float, elbow: float
) -> Pose:
    """Left leg forward, right leg back, arms opposite (left arm back)."""
    return _p(
        {"left_hip": (front_hip, 0.0, 0.0), "left_knee": (front_knee, 0.0, 0.0)},
        {"right_hip": (back_hip, 0.0, 0.0), "right_knee": (back_knee, 0.0, 0.0)},
        {"left_arm": (0.25, -0.95, -arm), "right_arm": (-0.25, -0.95, arm)},
        _elbows(elbow),
        {"spine3": (0.0, -6.0, 0.0), "pelvis": (0.0, 4.0, 0.0)},
    )


def _passing(stance_knee: float, swing_hip: float, swing_knee: float, elbow: float) -> Pose:
    """Left leg supporting, right leg swinging through under the body."""
    return _p(
        {"left_hip": (0.0, 0.0, 0.0), "left_knee": (stance_knee, 0.0, 0.0)},
        {"right_hip": (swing_hip, 0.0, 0.0), "right_knee": (swing_knee, 0.0, 0.0)},
        _elbows(elbow),
    )


def _cycle(period: float, first: Pose, second: Pose) -> list[tuple[float, Pose]]:
    """A symmetric gait: two half-cycles, the second mirroring the first."""
    q = period / 4
    return [(0.0, first), (q, second), (2 * q, mirror(first)), (3 * q, mirror(second))]


def _hops(period: float, cycles: int, height: float) -> list[tuple[float, float, float]]:
    keys = [(0.0, 0.0, 0.0)]
    for i in range(cycles):
        keys += [(i * period + period * 0.25, 0.0, height), (i * period + period * 0.5, 0.0, 0.0)]
    return keys


_GUARD = _p(both({"left_arm": (0.35, -0.75, 0.55)}), _elbows(125.0))
_CROUCH = _p(_legs(-60.0, 95.0, -30.0), {"spine1": (25.0, 0.0, 0.0)}, both({"left_arm": BACK}))

ACTIONS: tuple[KeyAction, ...] = (
    KeyAction(
        "walk",
        _cycle(1.1, _stride(-25.0, 5.0, 15.0, 12.0, 0.35, 15.0), _passing(12.0, -25.0, 55.0, 10.0)),
        duration=3.3,
        loop=1.1,
        speed=1.2,
        aliases=("walking", "walking forward", "strolling"),
    ),
    KeyAction(
        "run",
        _cycle(
            0.7,
            _p(_stride(-45.0, 30.0, 20.0, 25.0, 0.6, 90.0), {"spine1": (12.0, 0.0, 0.0)}),
            _p(_passing(30.0, -45.0, 110.0, 90.0), {"spine1": (12.0, 0.0, 0.0)}),
        ),
        duration=2.8,
        loop=0.7,
        speed=3.0,
        aliases=("running", "jogging", "sprinting"),
    ),
    KeyAction(
        "jump",
        [
            (0.0, {}),
            (0.5, _CROUCH),
            (0.8, _p(_legs(0.0, 0.0, 30.0), both({"left_arm": UP}))),
            (1.05, _p(_legs(-40.0, 60.0, 10.0), both({"left_arm": (0.5, 0.8, 0.2)}))),
            (
                1.35,
                _p(_legs(-50.0, 80.0, -25.0), {"spine1": (20.0, 0.0, 0.0)}, both({"left_arm": FORWARD_DOWN})),
            ),
            (2.0, {}),
        ],
        duration=2.4,
        root=((0.0, 0.0, 0.0), (0.8, 0.0, 0.0), (1.05, 0.0, 0.4), (1.3, 0.0, 0.0)),
        aliases=("jumping", "jumping up", "leaping"),
    ),
    KeyAction(
        "wave",
        [(0.0, {}), (0.6, {"right_arm": (-0.6, 0.75, 0.15), "right_elbow": (0.0, 40.0, 0.0)})]
        + [
            (
                0.6 + 0.35 * i,
                {"right_arm": (-0.6, 0.75, 0.15), "right_elbow": (0.0, 40.0 + 25.0 * (i % 2), 0.0)},
            )
            for i in range(1, 7)
        ],
        duration=3.0,
        aliases=("waving", "waving hello", "waving a hand", "saying hello"),
    ),
    KeyAction(
        "raise both arms",
        [
            (0.0, {}),
            (0.9, _p(both({"left_arm": UP}), _elbows(5.0))),
            (2.4, _p(both({"left_arm": UP}), _elbows(5.0))),
        ],
        duration=2.6,
        aliases=("raising both arms", "arms up", "hands up", "cheering"),
    ),
    KeyAction(
        "raise left arm",
        [(0.0, {}), (0.9, {"left_arm": UP, "left_elbow": (0.0, -5.0, 0.0)}), (2.4, {"left_arm": UP})],
        duration=2.6,
        aliases=("raising the left arm", "left hand up"),
    ),
    KeyAction(
        "raise right arm",
        [
            (0.0, {}),
            (0.9, mirror({"left_arm": UP, "left_elbow": (0.0, -5.0, 0.0)})),
            (2.4, mirror({"left_arm": UP})),
        ],
        duration=2.6,
        aliases=("raising the right arm", "right hand up", "asking a question"),
    ),
    KeyAction(
        "squat",
        [
            (0.0, {}),
            (1.0, _p(_legs(-100.0, 125.0, -25.0), {"spine1": (25.0, 0.0, 0.0)}, both({"left_arm": FORWARD}))),
            (1.8, _p(_legs(-100.0, 125.0, -25.0), {"spine1": (25.0, 0.0, 0.0)}, both({"left_arm": FORWARD}))),
            (2.8, {}),
        ],
        duration=3.0,
        aliases=("squatting", "doing squats", "squatting down"),
    ),
    KeyAction(
        "kick",
        [
            (0.0, _GUARD),
            (0.6, _p(_GUARD, {"right_hip": (-70.0, 0.0, 0.0), "right_knee": (100.0, 0.0, 0.0)})),
            (
                0.85,
                _p(
                    _GUARD,
                    {"right_hip": (-85.0, 0.0, 0.0), "right_knee": (5.0, 0.0, 0.0), "spine1": (-12.0, 0, 0)},
                ),
            ),
            (1.15, _p(_GUARD, {"right_hip": (-70.0, 0.0, 0.0), "right_knee": (100.0, 0.0, 0.0)})),
            (1.7, _GUARD),
        ],
        duration=2.2,
        aliases=("kicking", "doing a front kick", "kicking a ball"),
    ),
    KeyAction(
        "sit down",
        [
            (0.0, {}),
            (
                1.4,
                _p(
                    _legs(-90.0, 90.0),
                    {"spine1": (5.0, 0.0, 0.0)},
                    both({"left_arm": FORWARD_DOWN}),
                    _elbows(45),
                ),
            ),
            (2.6, _p(_legs(-90.0, 90.0), both({"left_arm": FORWARD_DOWN}), _elbows(45.0))),
        ],
        duration=2.8,
        aliases=("sitting", "sitting down", "sitting on a chair"),
    ),
    KeyAction(
        "bow",
        [
            (0.0, {}),
            (
                1.0,
                _p(
                    {
                        "spine1": (30.0, 0, 0),
                        "spine2": (25.0, 0, 0),
                        "spine3": (15.0, 0, 0),
                        "neck": (10.0, 0, 0),
                    }
                ),
            ),
            (
                1.6,
                _p(
                    {
                        "spine1": (30.0, 0, 0),
                        "spine2": (25.0, 0, 0),
                        "spine3": (15.0, 0, 0),
                        "neck": (10.0, 0, 0),
                    }
                ),
            ),
            (2.6, {}),
        ],
        duration=2.8,
        aliases=("bowing", "taking a bow", "bowing politely"),
    ),
    KeyAction(
        "punch",
        [
            (0.0, _GUARD),
            (
                0.25,
                _p(_GUARD, {"right_arm": (-0.1, 0.1, 1.0), "right_elbow": (0, 0, 0), "spine3": (0, 20.0, 0)}),
            ),
            (0.5, _GUARD),
            (
                0.75,
                _p(_GUARD, {"left_arm": (0.1, 0.1, 1.0), "left_elbow": (0, 0, 0), "spine3": (0, -20.0, 0)}),
            ),
        ],
        duration=2.5,
        loop=1.0,
        aliases=("punching", "boxing", "throwing punches"),
    ),
    KeyAction(
        "clap",
        [
            (0.0, _p(both({"left_arm": (0.3, -0.3, 1.0)}), _elbows(35.0))),
            (0.25, _p(both({"left_arm": (0.9, -0.3, 0.6)}), _elbows(35.0))),
        ],
        duration=2.5,
        loop=0.5,
        aliases=("clapping", "clapping hands", "applauding"),
    ),
    KeyAction(
        "turn around",
        [
            (0.0, {}),
            (0.5, {"left_hip": (-25.0, 0, 0), "left_knee": (45.0, 0, 0)}),
            (1.0, {}),
            (1.5, {"right_hip": (-25.0, 0, 0), "right_knee": (45.0, 0, 0)}),
            (2.0, {}),
        ],
        duration=2.4,
        root=((0.0, 0.0, 0.0), (0.3, 0.0, 0.0), (2.0, 180.0, 0.0)),
        aliases=("turning around", "turning back", "spinning around"),
    ),
    KeyAction(
        "dance",
        [
            (
                0.0,
                _p(
                    _legs(-15.0, 30.0),
                    {"pelvis": (0, 0, 8.0)},
                    {"left_arm": UP, "right_arm": (-0.6, 0.6, 0.4)},
                ),
            ),
            (0.5, _p(_legs(-5.0, 5.0), {"pelvis": (0, 10.0, 0)}, _elbows(60.0))),
            (
                1.0,
                _p(
                    _legs(-15.0, 30.0),
                    {"pelvis": (0, 0, -8.0)},
                    {"right_arm": (-0.12, 1, 0.05), "left_arm": SIDE},
                ),
            ),
            (1.5, _p(_legs(-5.0, 5.0), {"pelvis": (0, -10.0, 0)}, _elbows(60.0))),
        ],
        duration=4.0,
        loop=2.0,
        aliases=("dancing", "dancing happily", "grooving to music"),
    ),
    KeyAction(
        "crouch",
        [
            (0.0, {}),
            (
                1.0,
                _p(_legs(-110.0, 140.0, -30.0), {"spine1": (35.0, 0, 0)}, both({"left_arm": FORWARD_DOWN})),
            ),
            (
                2.4,
                _p(_legs(-110.0, 140.0, -30.0), {"spine1": (35.0, 0, 0)}, both({"left_arm": FORWARD_DOWN})),
            ),
        ],
        duration=2.6,
        aliases=("crouching", "crouching down", "ducking"),
    ),
    KeyAction(
        "stretch",
        [
            (0.0, {}),
            (1.0, _p(both({"left_arm": UP}), {"spine2": (-12.0, 0, 0), "neck": (-15.0, 0, 0)})),
            (2.0, _p(both({"left_arm": (0.4, 0.9, 0.0)}), {"spine1": (0, 0, 15.0), "spine2": (0, 0, 12.0)})),
            (
                3.0,
                _p(both({"left_arm": (0.4, 0.9, 0.0)}), {"spine1": (0, 0, -15.0), "spine2": (0, 0, -12.0)}),
            ),
            (3.8, {}),
        ],
        duration=4.0,
        aliases=("stretching", "stretching arms", "doing a morning stretch"),
    ),
    KeyAction(
        "throw",
        [
            (0.0, {}),
            (0.8, _p({"right_arm": (-0.6, 0.5, -0.6), "right_elbow": (0, 90.0, 0), "spine3": (0, -25.0, 0)})),
            (
                1.15,
                _p(
                    {"right_arm": (-0.1, 0.3, 1.0), "right_elbow": (0, 5.0, 0), "spine3": (0, 25.0, 0)},
                    {"left_hip": (-30.0, 0, 0), "left_knee": (20.0, 0, 0), "spine1": (15.0, 0, 0)},
                ),
            ),
            (1.6, _p({"right_arm": (-0.2, -0.7, 0.6), "spine1": (20.0, 0, 0)})),
            (2.3, {}),
        ],
        duration=2.5,
        aliases=("throwing", "throwing a ball", "pitching"),
    ),
    KeyAction(
        "climb",
        _cycle(
            1.6,
            _p(
                {"left_arm": (0.2, 1.0, 0.3), "left_elbow": (0, -30.0, 0), "right_arm": (-0.4, 0.5, 0.5)},
                {"right_elbow": (0, 90.0, 0), "right_hip": (-75.0, 0, 0), "right_knee": (95.0, 0, 0)},
            ),
            _p(both({"left_arm": (0.3, 0.8, 0.4)}), _elbows(60.0), _legs(-30.0, 40.0)),
        ),
        duration=3.2,
        loop=1.6,
        aliases=("climbing", "climbing a ladder", "climbing up"),
    ),
    KeyAction(
        "kneel",
        [
            (0.0, {}),
            (0.8, _p(_legs(-60.0, 90.0, -20.0), {"spine1": (10.0, 0, 0)})),
            (1.6, _p(_legs(-5.0, 90.0, 30.0), both({"left_arm": FORWARD_DOWN}))),
            (2.6, _p(_legs(-5.0, 90.0, 30.0), both({"left_arm": FORWARD_DOWN}))),
        ],
        duration=2.8,
        aliases=("kneeling", "kneeling down", "praying on the knees"),
    ),
    KeyAction(
        "jumping jacks",
        [
            (0.0, _p(both({"left_arm": (0.5, 0.86, 0.0), "left_hip": (0, 0, 18.0)}))),
            (0.4, {}),
        ],
        duration=3.2,
        loop=0.8,
        root=_hops(0.8, 4, 0.08),
        aliases=("doing jumping jacks", "star jumps", "exercising"),
    ),
    KeyAction(
        "nod",
        [
            (0.0, {}),
            (0.4, {"neck": (18.0, 0, 0), "head": (10.0, 0, 0)}),
            (0.8, {"neck": (-4.0, 0, 0)}),
            (1.2, {"neck": (18.0, 0, 0), "head": (10.0, 0, 0)}),
            (1.6, {}),
        ],
        duration=2.0,
        aliases=("nodding", "nodding yes", "agreeing"),
    ),
    KeyAction(
        "shake head",
        [
            (0.0, {}),
            (0.4, {"neck": (0, 35.0, 0)}),
            (0.9, {"neck": (0, -35.0, 0)}),
            (1.4, {"neck": (0, 30.0, 0)}),
            (1.8, {}),
        ],
        duration=2.0,
        aliases=("shaking the head", "saying no", "disagreeing"),
    ),
    KeyAction(
        "point",
        [
            (0.0, {}),
            (0.7, {"right_arm": (-0.15, 0.15, 1.0), "right_elbow": (0, 0, 0)}),
            (2.0, {"right_arm": (-0.15, 0.15, 1.0)}),
        ],
        duration=2.2,
        aliases=("pointing", "pointing forward", "pointing at something"),
    ),
    KeyAction(
        "shrug",
        [
            (0.0, {}),
            (0.6, _p(both({"left_collar": (0, 0, 18.0), "left_arm": (0.6, -0.8, 0.3)}), _elbows(90.0))),
            (1.3, _p(both({"left_collar": (0, 0, 18.0), "left_arm": (0.6, -0.8, 0.3)}), _elbows(90.0))),
            (2.0, {}),
        ],
        duration=2.2,
        aliases=("shrugging", "shrugging the shoulders", "not knowing"),
    ),
    KeyAction(
        "lunge",
        [
            (0.0, {}),
            (
                1.0,
                _p(
                    {"left_hip": (-85.0, 0, 0), "left_knee": (90.0, 0, 0), "right_hip": (25.0, 0, 0)},
                    {"right_knee": (80.0, 0, 0), "right_ankle": (30.0, 0, 0)},
                ),
            ),
            (
                1.8,
                _p(
                    {"left_hip": (-85.0, 0, 0), "left_knee": (90.0, 0, 0), "right_hip": (25.0, 0, 0)},
                    {"right_knee": (80.0, 0, 0), "right_ankle": (30.0, 0, 0)},
                ),
            ),
            (2.8, {}),
        ],
        duration=3.0,
        aliases=("lunging", "doing lunges", "stepping forward into a lunge"),
    ),
)

ACTION_NAMES: tuple[str, ...] = tuple(a.name for a in ACTIONS)


class UnknownActionError(ValueError):
    """An action name that is not in the library."""


def get_action(name: str) -> KeyAction:
    """The library action named ``name`` or one of its aliases (case-insensitive)."""
    key = " ".join(name.lower().split())
    for action in ACTIONS:
        if key == action.name or key in action.aliases:
            return action
    raise UnknownActionError(f"unknown action {name!r}; the library has: {', '.join(ACTION_NAMES)}")


def action_clip(name: str, fps: float = 30.0) -> MotionClip:
    """The action ``name`` as a grounded clip."""
    return render_action(get_action(name), fps)


def library_clips(fps: float = 30.0) -> list[MotionClip]:
    """Every action of the library, rendered at ``fps``."""
    return [render_action(a, fps) for a in ACTIONS]
