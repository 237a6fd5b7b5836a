"""Policies with memory: the state is primed into the env, carried from step to step and reset at
episode starts; DQN learns on sliced sequences (DRQN), PPO on runs of consecutive steps; a
recurrent run checkpoints, resumes, takes live edits and hands out snapshots with its state."""

import math

import pytest
import torch
from torchrl.collectors import Collector
from torchrl.data import SliceSampler
from torchrl.modules import LSTMModule

from conftest import of_type, tiny_dqn, train_run
from tui_rl.config import RunConfig, apply_overrides
from tui_rl.engine.algorithms.on_policy import shuffled_passes
from tui_rl.engine.algorithms import build_algorithm
from tui_rl.engine.envs.making import make_env
from tui_rl.engine.networks.recurrent import sequence_mode
from tui_rl.engine.policy.outputs import POLICY_KEY, with_policy_outputs
from tui_rl.engine.protocol import HparamsChanged, SetHparams
from tui_rl.engine.runs.record import create_run
from tui_rl.engine.run.snapshots import snapshot

torch.set_num_threads(1)

STATE = {"lstm": "recurrent_state_h", "gru": "recurrent_state"}


def memory_config(*overrides: str) -> RunConfig:
    return apply_overrides(RunConfig(), [
        "network.recurrent=lstm", "network.recurrent_size=8", "network.hidden_sizes=[16]",
        "replay_buffer.batch_size=32", "replay_buffer.size=1000", *overrides,
    ])


def collect(config: RunConfig, frames: int = 200):
    env = make_env(config)
    algorithm = build_algorithm(config, env, "cpu")
    collector = Collector(env, algorithm.collector_policy, frames_per_batch=frames, total_frames=frames,
                          auto_register_policy_transforms=False)
    batch = next(iter(collector))
    collector.shutdown()
    env.close()
    return algorithm, batch


@pytest.mark.parametrize("core, num_envs", [("lstm", 1), ("gru", 1), ("lstm", 2)])
def test_the_state_is_carried_across_steps_and_reset_at_episode_starts(core, num_envs):
    _, batch = collect(memory_config(f"network.recurrent={core}", f"env.num_envs={num_envs}"))
    key = STATE[core]
    for steps in batch.unbind(0) if num_envs > 1 else [batch]:
        is_init = steps["is_init"].squeeze(-1)
        state, after = steps[key], steps["next", key]
        assert is_init[0] and is_init[1:].any(), "the batch should cross an episode start"
        assert (state[is_init] == 0).all(), "an episode starts from a zero state"
        carried = ~is_init[1:]
        assert torch.equal(state[1:][carried], after[:-1][carried]), "the state goes on to the next step"
        assert (state[1:][carried].abs().sum((-1, -2)) > 0).all()


def test_learning_on_a_sequence_computes_what_the_policy_computed_step_by_step():
    algorithm, batch = collect(memory_config())
    policy = algorithm.eval_policy
    with torch.no_grad(), sequence_mode(True):
        replayed = policy(batch.select(*policy.in_keys).clone())
    assert torch.allclose(replayed["action_value"], batch["action_value"], atol=1e-5)
    # A slice from the middle of an episode across the next one's start: the core starts from the
    # state stored with the slice's first step, and from zeros at the episode start.
    second_episode = int(batch["is_init"].squeeze(-1).nonzero()[1])
    window = slice(second_episode - 3, second_episode + 5)
    with torch.no_grad(), sequence_mode(True):
        replayed = policy(batch[window].select(*policy.in_keys).clone())
    assert torch.allclose(replayed["action_value"], batch[window]["action_value"], atol=1e-5)


def test_drqn_samples_sequences_of_one_trajectory_with_torchrl_slice_sampler():
    config = memory_config("replay_buffer.sampler=slice", "replay_buffer.slice_len=8",
                           "collector.frames_per_batch=100")
    env = make_env(config)
    algorithm = build_algorithm(config, env, "cpu")
    collector = Collector(env, algorithm.collector_policy, frames_per_batch=100, total_frames=300,
                          auto_register_policy_transforms=False)
    for frames, batch in zip(range(100, 301, 100), collector):
        logged = algorithm.update(batch, frames)
    collector.shutdown()
    assert math.isfinite(logged["loss_qvalue"])
    assert isinstance(algorithm.replay_buffer.sampler, SliceSampler)
    sample = algorithm.replay_buffer.sample(32)
    starts = sample["is_init"].squeeze(-1).nonzero().squeeze(-1).tolist()
    assert starts[0] == 0 and len(starts) >= 4
    for start, end in zip(starts, starts[1:] + [sample.numel()]):
        piece = sample[start:end]
        assert 1 <= piece.numel() <= 8
        assert (piece["collector", "traj_ids"] == piece["collector", "traj_ids"][0]).all()
        assert torch.equal(piece["step_count"].diff(dim=0), torch.ones_like(piece["step_count"][1:]))
    env.close()


def test_ppo_with_memory_learns_on_runs_of_consecutive_steps_of_each_env():
    config = memory_config("algorithm.name=ppo", "env.num_envs=2", "algorithm.minibatch_size=40",
                           "algorithm.epochs=2")
    algorithm, batch = collect(config)
    runs = list(shuffled_passes(batch, config.algorithm.epochs, config.algorithm.minibatch_size, memory=True))
    assert len(runs) == 2 * 5 and all(run.shape == (2, 20) for run in runs)
    for run in runs:
        count, is_init = run["step_count"].squeeze(-1), run["is_init"].squeeze(-1)
        assert ((count.diff(dim=-1) == 1) | is_init[:, 1:]).all()
    logged = algorithm.update(batch, 200)
    assert all(math.isfinite(value) for value in logged.values()), logged



def test_ppo_runs_its_memory_over_whole_runs_and_trains_it_on_the_policy_loss_alone():
    config = memory_config("algorithm.name=ppo", "env.num_envs=2", "algorithm.minibatch_size=40")
    algorithm, batch = collect(config)
    core = next(module for module in algorithm.actor.modules() if isinstance(module, LSTMModule))
    calls = []
    core.register_forward_hook(lambda module, args, out: calls.append((module.recurrent_mode, args[0].shape)))
    with torch.no_grad():
        algorithm.value_estimator(batch)
    assert calls and all(not recurrent for recurrent, _ in calls), "advantages read each step's stored state"
    calls.clear()
    run = next(shuffled_passes(batch, 1, config.algorithm.minibatch_size, memory=True))
    with sequence_mode(True):  # as PPO's update runs its loss on a run of steps
        loss = algorithm.loss_module(run)
    # the core runs once, over the whole [envs, steps] run: the critic's head reads what the actor's pass made
    assert calls == [(True, run.shape)]

    # The value loss trains the critic's head but not the shared core; the policy loss trains the core.
    core_params = list(core.parameters())
    head_params = [p for p in algorithm.critic.parameters() if all(p is not q for q in core_params)]
    algorithm.optimizer.zero_grad()
    loss["loss_critic"].backward(retain_graph=True)
    assert all(p.grad is None or not p.grad.any() for p in core_params)
    assert all(p.grad is not None and p.grad.any() for p in head_params)
    loss["loss_objective"].backward()
    assert all(p.grad is not None and p.grad.any() for p in core_params)

@pytest.mark.slow
def test_a_recurrent_run_checkpoints_resumes_takes_live_edits_and_shows_its_state(tmp_path):
    config = tiny_dqn("network.recurrent=lstm", "network.recurrent_size=8", "replay_buffer.sampler=slice",
                      "replay_buffer.slice_len=8")
    run_dir = create_run(config, runs_dir=tmp_path)
    first, events = train_run(config, run_dir, before=lambda t: t.submit(SetHparams({"optim.lr": 5e-4})))
    assert first.state == "finished"
    assert first.parts.algorithm.optimizer.param_groups[0]["lr"] == 5e-4
    assert of_type(events, HparamsChanged)
    resumed, events = train_run(tiny_dqn(*[f"{k}={v}" for k, v in [
        ("network.recurrent", "lstm"), ("network.recurrent_size", 8), ("replay_buffer.sampler", "slice"),
        ("replay_buffer.slice_len", 8), ("collector.total_frames", 900)]]), run_dir, from_checkpoint=True)
    assert resumed.state == "finished" and resumed.counters.frames == 900
    assert resumed.parts.algorithm.replay_buffer.sampler.slice_len == 8

    # What the inspector shows beside each step: Q-values and the state the memory carries on.
    episode = with_policy_outputs(resumed.parts.eval_episode(resumed.config), resumed.parts.algorithm)
    outputs = episode[POLICY_KEY]
    assert outputs["action_value"].shape[-1] == 2
    assert outputs["recurrent_state_h"].shape == (episode.numel(), 1, 8)
    assert torch.equal(outputs["recurrent_state_h"][:-1], episode["recurrent_state_h"][1:])


@pytest.mark.parametrize("source", ["latest", "replay"])
def test_snapshots_of_a_recurrent_run_carry_the_state_per_step(tmp_path, source):
    config = tiny_dqn("network.recurrent=gru", "network.recurrent_size=8", "collector.total_frames=300")
    trainer, _ = train_run(config, create_run(config, runs_dir=tmp_path))
    warnings = []
    rollout = snapshot(source, trainer.parts, trainer.latest_episode, trainer.config, lambda *a: warnings.append(a))
    assert not warnings
    assert rollout["policy", "recurrent_state"].shape == (rollout.numel(), 1, 8)
    assert rollout["policy", "action_value"].shape == (rollout.numel(), 2)


def test_the_inspector_live_env_carries_the_state_from_step_to_step_and_lists_it():
    from tui_rl.engine.inspect.live_env import LiveEnvSession
    from tui_rl.tui.widgets.step_table import StepTable

    session = LiveEnvSession(memory_config("network.recurrent=lstm"))
    try:
        steps = [session.step_policy() for _ in range(3)]
    finally:
        session.close()
    assert steps[0]["is_init"].all() and (steps[0]["recurrent_state_h"] == 0).all()
    for before, after in zip(steps, steps[1:]):
        assert torch.equal(after["recurrent_state_h"], before[POLICY_KEY, "recurrent_state_h"])
        assert after["recurrent_state_h"].abs().sum() > 0
    table = StepTable()
    table.show(session.rollout, 2)
    names = [name for name, _, _ in table.rows()]
    assert {"policy.action_value", "policy.recurrent_state_h", "policy.recurrent_state_c"} <= set(names)


def test_memory_is_switched_off_with_none_on_the_command_line():
    # `--set network.recurrent=none` is how the preset's note shows the same setup without memory
    assert not apply_overrides(memory_config(), ["network.recurrent=none"]).network.has_memory
