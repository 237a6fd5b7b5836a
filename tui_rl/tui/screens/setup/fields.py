"""Which config fields each Setup tab shows, and under which titles; derived from the config's
models and the algorithm registry, so a new field or algorithm shows up without a change here."""

from __future__ import annotations

from tui_rl.config import RunConfig

ENV_FIELDS = ["env.num_envs", "env.backend", "env.kwargs", "env.max_episode_steps", "env.seed"]
#: env fields that can change the specs or make the env unbuildable (the probe builds one copy,
#: so num_envs does not)
PROBED_FIELDS = ("env.backend", "env.kwargs", "env.max_episode_steps")
#: how a multi-agent algorithm's networks treat the agents: the Policy tab says it in words
AGENT_FIELDS = ("algorithm.share_params", "algorithm.centralised")
POLICY_TITLES = {"network": "Network", "algorithm": "Exploration"}
GROUP_TITLES = {
    "network": "Network",
    "algorithm": "Algorithm",
    "collector": "Collection",
    "replay_buffer": "Replay buffer",
    "optim": "Optimiser",
    "eval": "Evaluation",
    "checkpoint": "Checkpoints",
    "logging": "Logging",
    "": "Run",
}


def policy_paths(config: RunConfig) -> list[str]:
    """The network (encoder, memory core, heads) and how the algorithm explores."""
    return [f"network.{field}" for field in type(config.network).model_fields] + [
        f"algorithm.{field}" for field in config.algorithm.exploration_fields
    ]


def hparam_paths(config: RunConfig) -> list[str]:
    """Every other tunable field; replay-buffer settings only for off-policy algorithms."""
    algorithm = config.algorithm
    skip = {"name", *algorithm.exploration_fields}
    paths = [f"algorithm.{f}" for f in type(algorithm).model_fields if f not in skip]
    sections = ["collector", "optim", "eval", "checkpoint", "logging"]
    if not algorithm.on_policy:
        sections.insert(1, "replay_buffer")
    for section in sections:
        fields = type(getattr(config, section)).model_fields
        paths += [
            f"{section}.{f}"
            for f in fields
            if not (f == "init_random_frames" and algorithm.on_policy)
        ]
    return paths + ["device", "compile", "description"]
