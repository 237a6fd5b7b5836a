"""Multi-agent envs: VMAS scenarios (``vmas/<scenario>``, vectorised in torch) and PettingZoo's
particle envs from mpe2 (``mpe/<task>``, its parallel API), each made by TorchRL's own wrapper.

Their agents come in groups (TorchRL's ``group_map``): each group's observation, action, reward
and done sit under the group's name, with one entry per agent (``("agents", "observation")`` is
[envs, agents, features]). A cooperative env has one group; a competitive one a group per side
(simple_tag: ``adversary``, the predators, and ``agent``, the prey). The episode bookkeeping
(one return per group) is added by ``making.make_env``.
"""

from __future__ import annotations

import importlib
import warnings
from functools import partial

import torch
from torchrl.envs import EnvBase, SerialEnv

from tui_rl.config.errors import ConfigError
from tui_rl.config.models import RunConfig
from tui_rl.engine.envs.families import MPE_PREFIX, MPE_TASKS, VMAS_PREFIX, VMAS_SCENARIOS, require_family
from tui_rl.engine.envs.agent_group import AgentGroup
from tui_rl.engine.networks.action_distributions import spec_kind

#: episode length when the config sets none: VMAS scenarios never end on their own (BenchMARL's
#: vmas task configs cut them at 100 steps); MPE's own default is 25 cycles
VMAS_MAX_STEPS = 100
MPE_MAX_CYCLES = 25


def make_multi_agent_env(config: RunConfig, num_envs: int, device: str | torch.device) -> EnvBase:
    """``config.env``'s multi-agent env with ``num_envs`` copies (VMAS steps them as one batch;
    PettingZoo's are stepped in turn). Raises ConfigError naming the field at fault."""
    env_id = config.env.id
    missing = require_family(env_id)
    if missing is not None:
        raise ConfigError.at("env.id", f"cannot make {env_id!r}: {missing}")
    if env_id.startswith(VMAS_PREFIX):
        return make_vmas(config, num_envs, device)
    if num_envs == 1:
        return make_mpe(config, device)
    return SerialEnv(num_envs, partial(make_mpe, config, device))


def make_vmas(config: RunConfig, num_envs: int, device: str | torch.device) -> EnvBase:
    from torchrl.envs.libs.vmas import VmasEnv

    env_cfg = config.env
    scenario = env_cfg.id.removeprefix(VMAS_PREFIX)
    if scenario not in VMAS_SCENARIOS:
        raise ConfigError.at("env.id", f"{env_cfg.id!r} is no VMAS scenario tui-rl lists "
                                       f"({', '.join(VMAS_PREFIX + s for s in VMAS_SCENARIOS)})")
    kwargs = {"continuous_actions": True, **env_cfg.kwargs}
    try:
        return VmasEnv(scenario, num_envs=num_envs, max_steps=env_cfg.max_episode_steps or VMAS_MAX_STEPS,
                       device=device, seed=env_cfg.seed, **kwargs)
    except TypeError as exc:  # a scenario kwarg it does not take
        raise ConfigError.at("env.kwargs", f"{env_cfg.id} does not take {', '.join(env_cfg.kwargs)}: {exc}") from None


def make_mpe(config: RunConfig, device: str | torch.device) -> EnvBase:
    from torchrl.envs.libs.pettingzoo import PettingZooWrapper

    env_cfg = config.env
    task = env_cfg.id.removeprefix(MPE_PREFIX)
    if task not in MPE_TASKS:
        raise ConfigError.at("env.id", f"{env_cfg.id!r} is no particle env tui-rl lists "
                                       f"({', '.join(MPE_PREFIX + t for t in MPE_TASKS)})")
    module = importlib.import_module(f"mpe2.{MPE_TASKS[task]}")
    kwargs = {"max_cycles": env_cfg.max_episode_steps or MPE_MAX_CYCLES, **env_cfg.kwargs}
    try:
        parallel_env = module.parallel_env(**kwargs)
    except TypeError as exc:
        raise ConfigError.at("env.kwargs", f"{env_cfg.id} does not take {', '.join(env_cfg.kwargs)}: {exc}") from None
    with warnings.catch_warnings():  # TorchRL names the PettingZoo version it was tested with
        warnings.simplefilter("ignore", UserWarning)
        env = PettingZooWrapper(parallel_env, use_mask=False, categorical_actions=True, device=device)
    env.set_seed(env_cfg.seed)
    return env


def is_multi_agent_env(env: EnvBase) -> bool:
    """Whether ``env``'s actions are nested under group names (TorchRL's multi-agent convention)."""
    return any(isinstance(key, tuple) for key in env.action_keys)


def group_names(env: EnvBase) -> list[str]:
    """The groups of a multi-agent env, in its order."""
    return [key[0] for key in env.action_keys if isinstance(key, tuple)]


def agent_groups(env: EnvBase) -> list[AgentGroup]:
    """Each group's name, size, and one agent's observation and action, as text."""
    groups = []
    for name in group_names(env):
        observation = env.observation_spec_unbatched[name, "observation"]
        action = env.full_action_spec_unbatched[name, "action"]
        kind = spec_kind(action[0])
        count = getattr(action.space, "n", None)
        action_text = (f"discrete: {count} actions" if kind == "discrete" and count
                       else f"{kind} [{'x'.join(str(s) for s in action.shape[1:])}]")
        if kind == "continuous" and hasattr(action.space, "low"):
            action_text += f" in [{action.space.low.min().item():g}, {action.space.high.max().item():g}]"
        groups.append(AgentGroup(
            name, int(action.shape[0]),
            f"{str(observation.dtype).removeprefix('torch.')} [{'x'.join(str(s) for s in observation.shape[1:])}]",
            action_text,
        ))
    return groups


def group_action_kinds(env: EnvBase) -> dict[str, str]:
    """Each group's action kind (see ``spec_kind``)."""
    return {name: spec_kind(env.full_action_spec_unbatched[name, "action"][0]) for name in group_names(env)}


def describe_groups(env: EnvBase) -> dict[str, str]:
    """The specs pane's lines for a multi-agent env: its groups, then one line per group."""
    groups = agent_groups(env)
    lines = {
        "backend": "vmas (vectorised torch)" if "Vmas" in type(env.base_env).__name__ else "pettingzoo (parallel)",
        "groups": ", ".join(f"{g.name} ({g.agents} agent{'s' if g.agents > 1 else ''})" for g in groups),
    }
    for group in groups:
        lines[f"group {group.name}"] = (f"{group.agents} x observation {group.observation}; "
                                        f"action {group.action}; reward per agent")
    lines["done"] = ", ".join(str(key) for key in env.done_keys)
    return lines


def with_group_dones(batch, groups: list[str]) -> None:
    """Give each group its own done and terminated flags (one per agent), from the env's when it
    has only those (VMAS): GAE and the losses read them beside the group's reward."""
    for group in groups:
        reward = batch.get(("next", group, "reward"))
        for flag in ("done", "terminated"):
            if (group, flag) not in batch.get("next").keys(True):
                batch.set(("next", group, flag), batch.get(("next", flag)).unsqueeze(-1).expand(reward.shape))


def returning_groups(step) -> dict[str, tuple[str, str]]:
    """The groups whose running return (RewardSum's, see ``making.make_env``) a step holds, each
    with its key: {} for a single-agent step."""
    return {key[0]: key for key in step.keys(True, True)
            if isinstance(key, tuple) and len(key) == 2 and key[1] == "episode_reward"}
