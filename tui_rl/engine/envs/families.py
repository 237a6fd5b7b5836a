"""Env families: which package (and tui-rl extra) an env id needs, how its ids get registered
with Gymnasium, and its standard preprocessing as a stack of registry transforms.

Imports neither torch nor the families' packages at module level: the app lists the families
before its first paint, and a missing package is a fact to report, never an ImportError.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tui_rl.engine import extras

#: Atari as DQN (Mnih et al., 2015) and TorchRL's sota-implementations preprocess it: the pixels
#: become the observation the networks read, 30 no-ops at most after each reset, each action held
#: for 4 frames (ALE's own frame skip is set to 1), a life lost counts as a done for the loss,
#: rewards clipped to [-1, 1], grey 84 x 84 frames, 4 of them stacked. uint8 stays uint8:
#: the observation is uint8 [4, 84, 84], the newest frame last.
ATARI_TRANSFORMS: tuple[dict[str, Any], ...] = (
    {"name": "RenameTransform", "params": {"in_keys": ["pixels"], "out_keys": ["observation"]}},
    {"name": "NoopResetEnv", "params": {"noops": 30, "random": True}},
    {"name": "FrameSkipTransform", "params": {"frame_skip": 4}},
    {"name": "EndOfLifeTransform", "params": {}},
    {"name": "RewardClipping", "params": {"clamp_min": -1.0, "clamp_max": 1.0}},
    {"name": "ToTensorImage", "params": {"from_int": False, "dtype": "uint8"}},
    {"name": "GrayScale", "params": {}},
    {"name": "Resize", "params": {"w": 84, "h": 84}},
    {"name": "CatFrames", "params": {"N": 4, "dim": -3}},
)

#: MinAtar (Young & Tian, 2019) as its paper trains it: no frame skip or stacking, the 10 x 10
#: object channels as a float32 [C, 10, 10] observation (0 or 1; C is 4 for Breakout).
MINATAR_TRANSFORMS: tuple[dict[str, Any], ...] = (
    {"name": "ToTensorImage", "params": {"from_int": False, "dtype": "float32"}},
)

#: MuJoCo's Gymnasium envs observe float64; the networks are float32 (RL Zoo's and TorchRL's
#: MuJoCo examples cast the same way). Any other env observing float64 gets the cast too (see
#: ``envs/making.py``); here it is shown in the stack, where it can be edited.
MUJOCO_TRANSFORMS: tuple[dict[str, Any], ...] = ({"name": "DoubleToFloat", "params": {}},)

#: The DeepMind Control Suite from states: its dict of float64 state vectors is joined into one
#: observation (see ``envs/making.py``) and cast to float32, as MuJoCo's are.
DM_CONTROL_TRANSFORMS = MUJOCO_TRANSFORMS
#: ... and from pixels (env kwarg ``from_pixels = true``) as DrQ (Kostrikov et al., 2020) trains
#: it: the 84 x 84 RGB camera image becomes the observation, each action held for 4 steps, the
#: newest 3 frames stacked: uint8 [9, 84, 84].
DM_CONTROL_PIXEL_TRANSFORMS: tuple[dict[str, Any], ...] = (
    {"name": "RenameTransform", "params": {"in_keys": ["pixels"], "out_keys": ["observation"]}},
    {"name": "FrameSkipTransform", "params": {"frame_skip": 4}},
    {"name": "ToTensorImage", "params": {"from_int": False, "dtype": "uint8"}},
    {"name": "CatFrames", "params": {"N": 3, "dim": -3}},
)
DM_CONTROL_PREFIX = "dm_control/"


def _register_ale() -> None:
    import ale_py
    import gymnasium

    gymnasium.register_envs(ale_py)


def _register_minatar() -> None:
    from minatar.gym import register_envs

    register_envs()


def dm_control_suite() -> Any:
    """dm_control's suite, imported with a GL backend that renders without a display (EGL) on a
    Linux machine that has none: dm_control picks its backend once, on import, and GLFW's (its
    first choice) fails there at the first frame."""
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        os.environ.setdefault("MUJOCO_GL", "egl")
    from dm_control import suite

    return suite


def _dm_control_ids() -> list[str]:
    """The suite's benchmark tasks (Tassa et al., 2018), as ``dm_control/<domain>-<task>``."""
    return [f"{DM_CONTROL_PREFIX}{domain}-{task}" for domain, task in dm_control_suite().BENCHMARKING]


#: multi-agent envs (engine/envs/multi_agent.py), made by TorchRL's own wrappers: VMAS's
#: vectorised scenarios (``vmas/<scenario>``) and PettingZoo's particle envs from mpe2 (``mpe/<task>``)
VMAS_PREFIX = "vmas/"
MPE_PREFIX = "mpe/"
VMAS_SCENARIOS = (
    "navigation", "balance", "transport", "wheel", "give_way", "passage", "joint_passage", "ball_passage",
    "dispersion", "flocking", "discovery", "sampling", "reverse_transport", "buzz_wire", "multi_give_way",
)
#: the mpe2 module of each particle task: simple_spread is cooperative, simple_tag (predators
#: and prey) and simple_adversary are competitive (one group of agents per side)
MPE_TASKS = {
    "simple_spread": "simple_spread_v3", "simple_tag": "simple_tag_v3", "simple_adversary": "simple_adversary_v3",
    "simple_reference": "simple_reference_v3", "simple_push": "simple_push_v3", "simple": "simple_v3",
}


def _vmas_ids() -> list[str]:
    return [VMAS_PREFIX + scenario for scenario in VMAS_SCENARIOS]


def _mpe_ids() -> list[str]:
    return [MPE_PREFIX + task for task in MPE_TASKS]


@dataclass(frozen=True)
class EnvFamily:
    name: str
    title: str
    #: the module that proves the family's package is installed
    module: str
    #: the tui-rl extra that installs it; None: it comes with Gymnasium
    extra: str | None
    #: env id prefixes (namespaces) that belong to the family, known before its ids are registered
    prefixes: tuple[str, ...] = ()
    #: Gymnasium entry-point modules that belong to it (ids Gymnasium registers itself)
    entry_points: tuple[str, ...] = ()
    #: registers the family's ids with Gymnasium (once its package is imported)
    register: Callable[[], None] | None = None
    #: the family's ids, for a family whose envs are not Gymnasium's (made by TorchRL's own wrapper)
    ids: Callable[[], list[str]] | None = None
    #: the standard preprocessing (transform configs) and env kwargs it goes with
    transforms: tuple[dict[str, Any], ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: the preprocessing in place of ``transforms`` when the env kwarg ``from_pixels`` is on
    pixel_transforms: tuple[dict[str, Any], ...] = ()
    #: its envs hold groups of agents (each group's observations, actions and rewards nested under
    #: its name): only multi-agent algorithms train in them
    multi_agent: bool = False

    def standard_transforms(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], ...]:
        """The preprocessing the family's envs go with under env kwargs ``kwargs``."""
        return self.pixel_transforms if self.pixel_transforms and kwargs.get("from_pixels") else self.transforms

    @property
    def install_line(self) -> str:
        return extras.install_line(self.extra)

    def missing(self) -> str | None:
        """Why the family cannot be used here (its package is missing), or None. The package is
        looked up, not imported: some import torch (VMAS), which the app's env list must not."""
        try:
            found = importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):  # ValueError: its import is blocked (None in sys.modules)
            found = False
        return None if found else f"{self.title} envs need {self.module}: {self.install_line}"

    def ensure_registered(self) -> None:
        """Register the family's ids unless Gymnasium knows them already (MinAtar warns when
        they are registered twice)."""
        import gymnasium

        if self.register is not None and not any(i.startswith(self.prefixes) for i in gymnasium.registry):
            self.register()

    def owns(self, env_id: str, entry_point: str | None = None) -> bool:
        return env_id.startswith(self.prefixes) if self.prefixes else (
            entry_point is not None and entry_point.startswith(self.entry_points)
        )


FAMILIES: dict[str, EnvFamily] = {
    family.name: family
    for family in [
        EnvFamily("classic_control", "Classic control", "gymnasium.envs.classic_control", None,
                  entry_points=("gymnasium.envs.classic_control",)),
        EnvFamily("box2d", "Box2D", "Box2D", "box2d", entry_points=("gymnasium.envs.box2d",)),
        EnvFamily("mujoco", "MuJoCo", "mujoco", "mujoco", entry_points=("gymnasium.envs.mujoco",),
                  transforms=MUJOCO_TRANSFORMS),
        EnvFamily("atari", "Atari (ALE)", "ale_py", "atari", prefixes=("ALE/",), register=_register_ale,
                  transforms=ATARI_TRANSFORMS, kwargs={"frameskip": 1}),
        EnvFamily("minatar", "MinAtar", "minatar", "minatar", prefixes=("MinAtar/",), register=_register_minatar,
                  transforms=MINATAR_TRANSFORMS),
        EnvFamily("dm_control", "DeepMind Control", "dm_control", "dmcontrol", prefixes=(DM_CONTROL_PREFIX,),
                  ids=_dm_control_ids, transforms=DM_CONTROL_TRANSFORMS, pixel_transforms=DM_CONTROL_PIXEL_TRANSFORMS),
        EnvFamily("vmas", "VMAS (multi-agent)", "vmas", "vmas", prefixes=(VMAS_PREFIX,), ids=_vmas_ids,
                  multi_agent=True),
        EnvFamily("pettingzoo", "PettingZoo MPE (multi-agent)", "mpe2", "pettingzoo", prefixes=(MPE_PREFIX,),
                  ids=_mpe_ids, multi_agent=True),
    ]
}


def family_of(env_id: str) -> EnvFamily | None:
    """The family ``env_id`` belongs to, by its prefix or its Gymnasium entry point; None for
    ids of no family (toy text, a user's own)."""
    for family in FAMILIES.values():
        if family.prefixes and family.owns(env_id):
            return family
    import gymnasium

    spec = gymnasium.registry.get(env_id)
    entry_point = spec.entry_point if spec is not None and isinstance(spec.entry_point, str) else None
    for family in FAMILIES.values():
        if not family.prefixes and family.owns(env_id, entry_point):
            return family
    return None


def is_multi_agent(env_id: str) -> bool:
    """Whether ``env_id`` names a multi-agent env (of a multi-agent family)."""
    family = family_of(env_id)
    return family is not None and family.multi_agent


def require_family(env_id: str) -> str | None:
    """Make ``env_id``'s ids known to Gymnasium; the reason (naming the extra) when its package
    is missing, else None."""
    family = family_of(env_id)
    if family is None:
        return None
    reason = family.missing()
    if reason is None:
        family.ensure_registered()
    return reason


def register_installed() -> dict[str, str]:
    """Register every installed family's ids; the reason of each family that is missing."""
    missing = {}
    for family in FAMILIES.values():
        reason = family.missing()
        if reason is not None:
            missing[family.name] = reason
        else:
            family.ensure_registered()
    return missing


def standard_stack(env_id: str, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """The preprocessing ``env_id``'s family goes with under env kwargs ``kwargs``; none for an id of no family."""
    family = family_of(env_id)
    return [dict(t) for t in family.standard_transforms(kwargs)] if family else []


def env_switch_edits(config: Any, env_id: str) -> dict[str, Any]:
    """The edits (for ``config.edit``) that move ``config`` to ``env_id``: the id, and the new
    family's standard preprocessing and env kwargs in place of the old family's (or of none).
    A stack or kwargs the user changed are kept."""
    old, new = family_of(config.env.id), family_of(env_id)
    edits: dict[str, Any] = {"env.id": env_id}
    kwargs = config.env.kwargs
    if kwargs == (old.kwargs if old else {}):
        kwargs = edits["env.kwargs"] = dict(new.kwargs if new else {})
    if stack_of(config) == standard_stack(config.env.id, config.env.kwargs):
        edits["transforms"] = standard_stack(env_id, kwargs)
    return edits


def kwargs_switch_edits(before: Any, after: Any) -> dict[str, Any]:
    """When an edit of the env kwargs (``before`` → ``after``, both configs) changes the
    preprocessing the env goes with (a DeepMind Control task's ``from_pixels`` switched): that
    preprocessing in place of the one before, as an edit; nothing when the user changed the stack."""
    old, new = standard_stack(before.env.id, before.env.kwargs), standard_stack(after.env.id, after.env.kwargs)
    if old == new or stack_of(after) != old:
        return {}
    return {"transforms": new}


def stack_of(config: Any) -> list[dict[str, Any]]:
    return [{"name": t.name, "params": t.params} for t in config.transforms]
