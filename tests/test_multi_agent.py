"""Multi-agent envs (VMAS, PettingZoo's particle envs) train with MAPPO, IPPO, QMIX and VDN: each
group of agents its own policy and its own return, and a single-agent algorithm on a multi-agent
env (or the reverse) refused before anything starts, naming algorithm.name."""

import math

import pytest
import torch
from conftest import needs, train_run

from tui_rl.config import ConfigError, validate
from tui_rl.engine.algorithms import build_algorithm
from tui_rl.engine.envs.making import describe_specs, make_env
from tui_rl.engine.envs.multi_agent import agent_groups
from tui_rl.engine.run.group_evaluation import evaluate_groups
from tui_rl.engine.run.preflight import check_buildable
from tui_rl.engine.runs.folder import read_metrics
from tui_rl.engine.runs.record import create_run

torch.set_num_threads(1)


def multi_agent(name: str, env_id: str, num_envs: int, frames_per_batch: int, total_frames: int, **more):
    """A small run of ``name`` on ``env_id``; ``more`` holds further sections' fields."""
    data = {
        "env": {"id": env_id, "num_envs": num_envs},
        "algorithm": {"name": name},
        "network": {"hidden_sizes": [64, 64], "activation": "tanh"},
        "collector": {"frames_per_batch": frames_per_batch, "total_frames": total_frames},
        "replay_buffer": {"batch_size": 128, "size": 50_000},
        "optim": {"lr": 3e-4, "max_grad_norm": 5.0},
        "eval": {"every_frames": total_frames, "episodes": 16},
        "checkpoint": {"every_frames": total_frames},
        "device": "cpu",
    }
    for section, fields in more.items():
        data.setdefault(section, {}).update(fields)
    return validate(data)


def random_return(config) -> float:
    """The mean evaluation return of uniformly random actions in every group."""
    env = make_env(config)
    try:
        return evaluate_groups(env, env.rand_action, config.eval.episodes, deterministic=False).mean_return
    finally:
        env.close()


def test_the_specs_name_each_group_with_its_agents_observation_and_action():
    needs("vmas", "vmas")
    needs("mpe2", "pettingzoo")
    env = make_env(multi_agent("mappo", "mpe/simple_tag", 1, 100, 1000))
    groups = {group.name: group for group in agent_groups(env)}
    assert {name: group.agents for name, group in groups.items()} == {"adversary": 3, "agent": 1}
    assert groups["adversary"].action == "discrete: 5 actions"
    specs = describe_specs(env)
    assert specs["groups"] == "adversary (3 agents), agent (1 agent)"
    assert "3 x observation float32 [16]" in specs["group adversary"]
    env.close()
    env = make_env(multi_agent("mappo", "vmas/navigation", 2, 100, 1000))
    assert describe_specs(env)["groups"] == "agents (4 agents)"  # the scenario's default
    assert "continuous [2] in [-1, 1]" in describe_specs(env)["group agents"]
    env.close()


@pytest.mark.parametrize("name, env_id, fitting", [
    ("ppo", "vmas/navigation", "mappo, ippo, qmix, vdn"),
    ("dqn", "mpe/simple_spread", "mappo, ippo, qmix, vdn"),
    ("mappo", "CartPole-v1", "dqn, ddpg, td3, sac, sac-discrete, ppo, a2c"),
])
def test_an_algorithm_for_the_other_kind_of_env_is_refused_before_anything_starts(name, env_id, fitting):
    needs("vmas", "vmas")
    needs("mpe2", "pettingzoo")
    config = validate({"env": {"id": env_id}, "algorithm": {"name": name}})
    with pytest.raises(ConfigError) as refused:
        check_buildable(config)
    assert [error.path for error in refused.value.errors] == ["algorithm.name"]
    assert f"choose one of {fitting}" in str(refused.value)


def test_qmix_refuses_a_competitive_env_of_two_groups_and_names_the_ones_that_fit():
    needs("mpe2", "pettingzoo")
    with pytest.raises(ConfigError) as refused:
        check_buildable(multi_agent("qmix", "mpe/simple_tag", 1, 100, 1000))
    assert refused.value.errors[0].path == "algorithm.name"
    assert "adversary, agent" in str(refused.value) and "mappo or ippo" in str(refused.value)


def test_simple_tag_trains_predators_and_prey_each_with_its_return_and_resumes(runs_dir):
    needs("mpe2", "pettingzoo")
    config = multi_agent("mappo", "mpe/simple_tag", 2, 200, 400)
    run_dir = create_run(config, name="tag", runs_dir=runs_dir)
    trainer, _ = train_run(config, run_dir)
    assert trainer.state == "finished", trainer.reason
    metrics = read_metrics(run_dir)
    assert {"episode_return/adversary", "episode_return/agent", "episode_return", "eval_return"} <= set(metrics)
    predators, prey = metrics["episode_return/adversary"][-1][1], metrics["episode_return/agent"][-1][1]
    assert metrics["episode_return"][-1][1] == pytest.approx((predators + prey) / 2)
    # the checkpoint holds both groups' networks: a longer budget resumes from it
    longer = config.model_copy(update={"collector": config.collector.model_copy(update={"total_frames": 600})})
    trainer, _ = train_run(longer, run_dir, from_checkpoint=True)
    assert trainer.state == "finished", trainer.reason
    assert trainer.counters.frames == 600
    assert read_metrics(run_dir)["episode_return/agent"][0][0] <= 400 < read_metrics(run_dir)["fps"][-1][0]


@pytest.mark.parametrize("name, env_id, num_envs", [
    ("ippo", "vmas/navigation", 4), ("vdn", "mpe/simple_spread", 1), ("qmix", "vmas/navigation", 4),
])
def test_each_algorithm_passes_the_checks_and_trains_a_batch(name, env_id, num_envs, runs_dir):
    needs("vmas", "vmas")
    needs("mpe2", "pettingzoo")
    extra = {"env": {"kwargs": {"continuous_actions": False}}} if name in ("qmix", "vdn") and "vmas" in env_id else {}
    config = multi_agent(name, env_id, num_envs, 400, 400, **extra)
    check_buildable(config, runs_dir)
    trainer, _ = train_run(config, create_run(config, name=name, runs_dir=runs_dir))
    assert trainer.state == "finished", trainer.reason
    metrics = read_metrics(trainer.run_dir)
    losses = {key: series[-1][1] for key, series in metrics.items() if key.startswith("loss_")}
    assert losses and all(math.isfinite(value) for value in losses.values()), losses



def test_the_qmix_target_bootstraps_through_the_episode_cut_and_stops_only_at_a_terminal_step():
    needs("mpe2", "pettingzoo")
    config = multi_agent("vdn", "mpe/simple_spread", 1, 100, 1000)
    env = make_env(config)
    algorithm = build_algorithm(config, env)
    steps = env.rollout(25, algorithm.collector_policy)  # MPE cuts its episodes at 25 cycles
    group = agent_groups(env)[0].name
    env.close()
    last = steps[-1:].clone()
    assert last["next", "done"].all() and not last["next", "terminated"].any()  # a cut, not an end
    # the loss's TD target reads the group's mean reward, as update() writes it
    last.set(("next", "reward"), last.get(("next", group, "reward")).mean(-2))
    estimator = algorithm.loss_module.value_estimator
    cut = estimator.value_estimate(last.clone())
    last.set(("next", "terminated"), torch.ones_like(last["next", "terminated"]))
    ended = estimator.value_estimate(last.clone())
    assert torch.equal(ended, last["next", "reward"])  # nothing after a terminal step
    assert not torch.allclose(cut, ended)  # after a cut, the next state's value counts

# -- a short run learns: its evaluation return beats uniformly random actions ---------------------
LEARNING = {
    "mappo-vmas-navigation": ("mappo", "vmas/navigation", 32, 3200, 64_000,
                              {"algorithm": {"epochs": 4, "minibatch_size": 800}, "eval": {"deterministic": False}}),
    "ippo-mpe-simple": ("ippo", "mpe/simple", 4, 1000, 12_000,
                        {"algorithm": {"epochs": 4, "minibatch_size": 200}, "optim": {"lr": 1e-3}}),
    # QMIX and VDN are DQN with a mixer (one agent: DQN itself). In MPE one action barely moves the
    # next reward (a force changes the velocity, which changes the position): only bootstrapped
    # values tell the actions apart, so the targets must follow within the short run (tau 0.05;
    # at 0.005 and 600 updates they stay near their start and the greedy policy, picking a direction
    # by noise, drifts away: -126 against -48 random) and the horizon be short (gamma 0.9).
    **{f"{name}-mpe-simple": (name, "mpe/simple", 4, 1000, 12_000,
                              {"algorithm": {"updates_per_batch": 100, "eps_decay_frames": 6_000, "tau": 0.05,
                                             "gamma": 0.9},
                               "optim": {"lr": 1e-3}})
       for name in ("qmix", "vdn")},
}


@pytest.mark.slow
@pytest.mark.parametrize("case", LEARNING.values(), ids=LEARNING.keys())
def test_a_short_run_returns_more_than_random_actions(case, runs_dir):
    needs("vmas", "vmas")
    needs("mpe2", "pettingzoo")
    name, env_id, num_envs, batch, total, more = case
    config = multi_agent(name, env_id, num_envs, batch, total, **more)
    baseline = random_return(config)
    trainer, _ = train_run(config, create_run(config, name=name, runs_dir=runs_dir))
    assert trainer.state == "finished", trainer.reason
    learned = read_metrics(trainer.run_dir)["eval_return"][-1][1]
    print(f"{name} on {env_id}: evaluation return {learned:.2f} after {total} frames; random actions {baseline:.2f}")
    assert learned > baseline
