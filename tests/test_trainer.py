"""The training loop, in-process, on real TorchRL envs, algorithms and collectors with tiny budgets."""

import gymnasium
import numpy as np
import pytest
import torch

import threading

from tui_rl.config import ConfigError, RunConfig, apply_overrides, edit, load_preset
from tui_rl.engine.runs.checkpoints import CheckpointStore
from tui_rl.engine.envs.making import make_env
from tui_rl.engine.run.snapshots import LatestEpisode
from tui_rl.engine.protocol import CheckpointNow, HparamsChanged, HparamsRejected, SetHparams, Checkpointed, Evaluated, Log, Metrics, Pause, Resume, StatusChanged, Stop
from tui_rl.engine.runs.folder import read_events, read_history, read_metrics, read_summary
from tui_rl.engine.runs.record import create_run

from conftest import PATIENCE_S, of_type, tiny_dqn, train_run, wait_until


class FlakyEnv(gymnasium.Env):
    """CartPole's spaces; after 120 steps it breaks down as a flaky simulator would: its step
    raises, or (``nan_reward``) it returns a NaN reward."""

    observation_space = gymnasium.spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, nan_reward=False):
        self.nan_reward = nan_reward

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        return np.zeros(4, np.float32), {}

    def step(self, action):
        self.steps += 1
        reward = 1.0
        if self.steps > 120:
            if not self.nan_reward:
                raise RuntimeError("simulator lost its connection")
            reward = float("nan")
        return np.zeros(4, np.float32), reward, False, False, {}


gymnasium.register("TuiRlTest/Flaky-v0", entry_point=FlakyEnv, max_episode_steps=500)


def test_a_short_run_trains_evaluates_checkpoints_and_finishes(tmp_path):
    config = tiny_dqn()
    run_dir = create_run(config, runs_dir=tmp_path, preset="tiny")
    trainer, events = train_run(config, run_dir)

    assert trainer.state == "finished"
    statuses = of_type(events, StatusChanged)
    assert [s.state for s in statuses] == ["running", "finished"]
    assert [e.frames for e in of_type(events, Evaluated)] == [300, 600]
    assert [e.frames for e in of_type(events, Checkpointed)] == [300, 600]
    metrics = of_type(events, Metrics)
    assert [m.frames for m in metrics] == [100, 200, 300, 400, 500, 600]
    learning = metrics[-1].values
    assert {"loss_qvalue", "epsilon", "fps", "lr"} <= set(learning)
    assert all(np.isfinite(v) for v in learning.values())
    assert [e.seq for e in events] == list(range(1, len(events) + 1))

    history = read_history(run_dir)
    assert history.status == "finished" and history.summary.frames == 600
    assert [f for f, _ in history.metrics["loss_qvalue"]] == [m.frames for m in metrics if "loss_qvalue" in m.values]
    assert [f for f, _ in history.metrics["fps"]] == [100, 200, 300, 400, 500, 600]
    assert [f for f, _ in history.metrics["eval_return"]] == [300, 600]
    assert [e.seq for e in history.events] == [e.seq for e in events if not isinstance(e, Metrics)]
    assert [p.name for p in CheckpointStore(run_dir, 2).checkpoints()] == ["300", "600"]
    assert 0 < trainer.counters.train_seconds == pytest.approx(history.summary.train_seconds)


def test_resume_restores_networks_optimiser_buffer_and_counters_then_continues_the_history(tmp_path):
    config = tiny_dqn()
    run_dir = create_run(config, runs_dir=tmp_path)
    first, _ = train_run(config, run_dir)

    # Same budget: the resumed trainer restores the checkpoint at 600 frames and has nothing to do.
    restored, _ = train_run(config, run_dir, from_checkpoint=True)
    assert restored.counters.frames == 600 and restored.counters.episodes == first.counters.episodes
    saved, loaded = first.parts.algorithm.state_dict(), restored.parts.algorithm.state_dict()
    for name, tensor in saved["loss_module"].items():
        assert torch.equal(tensor, loaded["loss_module"][name]), name
    assert saved["optimizers"]["optimizer"]["state"].keys() == loaded["optimizers"]["optimizer"]["state"].keys()
    assert len(restored.parts.algorithm.replay_buffer) == len(first.parts.algorithm.replay_buffer) == 600

    # A bigger budget: frames and metric series go on from 600.
    bigger = tiny_dqn("collector.total_frames=900")
    resumed, events = train_run(bigger, run_dir, from_checkpoint=True)
    assert resumed.state == "finished"
    assert any(isinstance(e, Log) and "resumed from the checkpoint at 600 frames" in e.message for e in events)
    assert [m.frames for m in of_type(events, Metrics)] == [700, 800, 900]
    series = read_history(run_dir).metrics["fps"]
    assert [f for f, _ in series] == [100, 200, 300, 400, 500, 600, 700, 800, 900]
    seqs = [e.seq for e in read_events(run_dir)]
    assert seqs == sorted(set(seqs))  # event numbers go on too


def test_reaching_the_target_return_finishes_early_and_records_when(tmp_path):
    config = tiny_dqn("collector.total_frames=100000", "eval.target_return=5")  # any CartPole episode
    run_dir = create_run(config, runs_dir=tmp_path)
    trainer, events = train_run(config, run_dir)
    assert trainer.state == "finished" and trainer.counters.frames == 300
    assert trainer.reason.startswith("evaluation return") and "reached the target 5" in trainer.reason
    assert trainer.counters.solved_frames == 300
    assert 0 < trainer.counters.solved_train_seconds == trainer.counters.train_seconds
    assert [e.frames for e in of_type(events, Checkpointed)] == [300]


def test_evaluation_sees_the_training_envs_normalisation_statistics(tmp_path):
    data = tiny_dqn("collector.total_frames=300").model_dump(mode="json")
    data["transforms"] = [{"name": "VecNorm", "params": {}}]
    config = RunConfig.model_validate(data)
    trainer, events = train_run(config, create_run(config, runs_dir=tmp_path))
    assert of_type(events, Evaluated)
    trained = dict(tensors(trainer.parts.env.transform.state_dict()))
    evaluated = dict(tensors(trainer.parts.eval_env.transform.state_dict()))
    assert any("loc" in key for key in trained) and trained.keys() == evaluated.keys()
    for key, value in trained.items():
        assert torch.equal(value, evaluated[key]), key


def tensors(state, prefix=""):
    """Every tensor of a (nested) state dict, by dotted key."""
    for key, value in state.items():
        if isinstance(value, dict):
            yield from tensors(value, f"{prefix}{key}.")
        elif isinstance(value, torch.Tensor):
            yield f"{prefix}{key}", value


def test_a_loss_that_becomes_nan_fails_the_run_before_a_checkpoint_holds_it(tmp_path):
    config = tiny_dqn(
        "collector.frames_per_batch=50", "collector.total_frames=3000", "checkpoint.every_frames=100",
        "optim.optimizer=sgd", "optim.lr=1", "optim.max_grad_norm=0", "network.hidden_sizes=[256, 256]",
        "algorithm.updates_per_batch=4",
    )
    run_dir = create_run(config, runs_dir=tmp_path)
    trainer, events = train_run(config, run_dir)

    assert trainer.state == "failed"
    assert "loss_qvalue became nan" in trainer.reason and "optim.lr=1" in trainer.reason
    latest = CheckpointStore(run_dir, 2).latest()
    assert latest is None or int(latest.name) < trainer.counters.frames
    assert of_type(events, StatusChanged)[-1].state == "failed"
    summary = read_summary(run_dir)
    assert (summary.status, summary.reason) == ("failed", trainer.reason)


def test_an_env_that_raises_fails_the_run_with_the_env_and_its_message(tmp_path):
    config = tiny_dqn("env.id=TuiRlTest/Flaky-v0")
    run_dir = create_run(config, runs_dir=tmp_path)
    trainer, _ = train_run(config, run_dir)
    assert trainer.state == "failed"
    assert "TuiRlTest/Flaky-v0" in trainer.reason
    assert "simulator lost its connection" in trainer.reason
    assert read_summary(run_dir).status == "failed"


def test_a_nan_reward_from_the_env_fails_the_run_before_it_is_trained_on(tmp_path):
    config = tiny_dqn("env.id=TuiRlTest/Flaky-v0", "env.kwargs={nan_reward = true}")
    run_dir = create_run(config, runs_dir=tmp_path)
    trainer, events = train_run(config, run_dir)
    assert trainer.state == "failed"
    assert "reward of nan" in trainer.reason
    assert [m.frames for m in of_type(events, Metrics)] == [100]  # the batch holding the NaN never trains


def test_a_config_that_cannot_be_built_fails_with_the_field_named(tmp_path):
    config = tiny_dqn("env.id=Pendulum-v1")
    run_dir = create_run(config, runs_dir=tmp_path)
    trainer, _ = train_run(config, run_dir)
    assert trainer.state == "failed" and trainer.config_error
    assert trainer.reason.startswith("algorithm.name: dqn needs a discrete action space")


def test_live_values_are_validated_against_the_model():
    config = RunConfig()
    assert edit(config, {"optim.lr": 3e-4}, live_only=True).optim.lr == 3e-4
    with pytest.raises(ConfigError, match="env.seed: not a live-tunable field; live fields: .*optim.lr"):
        edit(config, {"env.seed": 3}, live_only=True)
    with pytest.raises(ConfigError, match="optim.lr: Input should be less than or equal to 1"):
        edit(config, {"optim.lr": 5}, live_only=True)


def test_the_latest_episode_is_assembled_across_batches_that_split_it():
    env = make_env(RunConfig())
    steps = env.rollout(300, break_when_any_done=False)  # random actions, several episodes
    env.close()
    ends = steps["next", "done"].squeeze(-1).nonzero().squeeze(-1).tolist()
    expected = steps[ends[-2] + 1 : ends[-1] + 1]

    latest = LatestEpisode()
    for batch in steps.split(7):  # batches much shorter than an episode
        latest.add(batch)
    episode = latest.episode
    assert torch.equal(episode["observation"], expected["observation"])
    assert episode["next", "step_count"].squeeze(-1).tolist() == list(range(1, len(expected) + 1))


# ---- stops, pauses and checkpoints before the first batch ------------------------------------


def test_a_stop_before_the_first_batch_ends_the_run_stopped_with_a_checkpoint_at_frame_0(tmp_path):
    config = tiny_dqn()
    run_dir = create_run(config, runs_dir=tmp_path)
    trainer, events = train_run(config, run_dir, before=lambda t: t.stop("terminated (SIGTERM)"))
    assert (trainer.state, trainer.reason) == ("stopped", "terminated (SIGTERM)")
    assert trainer.counters.frames == 0 and not of_type(events, Metrics)
    assert [e.frames for e in of_type(events, Checkpointed)] == [0]
    assert read_summary(run_dir).status == "stopped"

    # ... and it resumes from there to its whole budget.
    resumed, _ = train_run(config, run_dir, from_checkpoint=True)
    assert resumed.state == "finished" and resumed.counters.frames == 600


def test_pause_and_checkpoint_at_frame_0_then_stop(tmp_path):
    config = tiny_dqn()
    run_dir = create_run(config, runs_dir=tmp_path)

    def queue_commands(trainer):
        for command in (Pause(), CheckpointNow(), Stop()):
            trainer.submit(command)

    trainer, events = train_run(config, run_dir, before=queue_commands)
    assert [s.state for s in of_type(events, StatusChanged)] == ["running", "paused", "stopped"]
    assert [e.frames for e in of_type(events, Checkpointed)] == [0]
    assert trainer.state == "stopped" and trainer.reason == "stopped by request"


# ---- numerical health ----------------------------------------------------------------------------


def test_an_optimiser_state_that_overflows_to_inf_fails_the_run_before_a_checkpoint_holds_it(tmp_path):
    """Pendulum DDPG with rewards scaled by 1e16 and no gradient clipping: Adam's second moment
    overflows while the losses and weights stay finite."""
    config = apply_overrides(
        load_preset("pendulum-ddpg"),
        ["optim.max_grad_norm=0", "collector.total_frames=4000", "checkpoint.every_frames=500", "eval.every_frames=100000"],
    ).model_dump(mode="json")
    config["transforms"].append({"name": "RewardScaling", "params": {"loc": 0.0, "scale": 1e16}})
    config = RunConfig.model_validate(config)
    run_dir = create_run(config, runs_dir=tmp_path)
    trainer, events = train_run(config, run_dir)

    assert trainer.state == "failed", trainer.reason
    assert "the optimiser optimizer state exp_avg_sq holds non-finite values" in trainer.reason
    assert "earlier checkpoints are intact" in trainer.reason
    for checkpoint in CheckpointStore(run_dir, 10).checkpoints():
        for state_file in checkpoint.rglob("state.pt"):
            if "replay_buffer" in state_file.parent.name:
                continue  # env data, and slots not written yet hold whatever memory held (torch.empty)
            state = torch.load(state_file, weights_only=True)
            for key, tensor in tensors(state):
                assert not tensor.is_floating_point() or torch.isfinite(tensor).all(), (state_file, key)


# ---- the target return, and training past it ----------------------------------------------------


def test_a_run_that_reached_its_target_says_so_and_a_resume_trains_on_to_its_budget(tmp_path):
    config = tiny_dqn("collector.total_frames=900", "eval.target_return=5")  # any CartPole episode
    run_dir = create_run(config, runs_dir=tmp_path, name="solved")
    trainer, _ = train_run(config, run_dir)
    assert trainer.state == "finished" and trainer.counters.frames == 300
    assert "reached the target 5 at frame 300" in trainer.reason
    assert "`tui-rl train --resume solved`" in trainer.reason and "900 frames" in trainer.reason

    resumed, events = train_run(config, run_dir, from_checkpoint=True)
    assert resumed.state == "finished" and resumed.counters.frames == 900
    assert resumed.reason == "trained the whole budget of 900 frames"
    assert resumed.counters.solved_frames == 300  # when it first got there stays recorded
    assert any(isinstance(e, Log) and "training on to the budget of 900 frames" in e.message for e in events)


# ---- starting an existing run over -----------------------------------------------------------------


def test_an_existing_run_started_without_its_checkpoints_starts_cleanly_at_frame_0(tmp_path):
    config = tiny_dqn()
    run_dir = create_run(config, runs_dir=tmp_path)
    train_run(config, run_dir)
    again, events = train_run(config, run_dir, from_checkpoint=False)
    assert again.state == "finished" and again.counters.frames == 600
    assert [m.frames for m in of_type(events, Metrics)] == [100, 200, 300, 400, 500, 600]
    assert [f for f, _ in read_metrics(run_dir)["fps"]] == [100, 200, 300, 400, 500, 600]
    assert [p.name for p in CheckpointStore(run_dir, 2).checkpoints()] == ["300", "600"]
    assert any(isinstance(e, Log) and "started over from frame 0: 2 earlier checkpoints removed" in e.message for e in events)


# ---- live edits ----------------------------------------------------------------------------------


def test_malformed_live_edits_are_rejected_and_the_run_goes_on(tmp_path):
    config = tiny_dqn()
    run_dir = create_run(config, runs_dir=tmp_path)

    def queue_edits(trainer):
        for values in ({("optim", "lr"): 0.1}, {3: 1.0}, ["optim.lr"], {"optim.lr": 5}, {"optim.lr": 3e-4}):
            trainer.submit(SetHparams(values))

    trainer, events = train_run(config, run_dir, before=queue_edits)
    assert trainer.state == "finished"
    rejected = of_type(events, HparamsRejected)
    assert [r.values for r in rejected] == [{"('optim', 'lr')": 0.1}, {"3": 1.0}, {}, {"optim.lr": 5}]
    assert "a field path must be text" in rejected[0].reason and "mapping" in rejected[2].reason
    assert [c.changes for c in of_type(events, HparamsChanged)] == [{"optim.lr": 3e-4}]
    assert [e.seq for e in read_events(run_dir)] == [e.seq for e in events if not isinstance(e, Metrics)]


# ---- commands apply in the order they arrive -------------------------------------------------------


def test_pause_and_resume_from_two_clients_apply_in_arrival_order(tmp_path):
    config = tiny_dqn("collector.total_frames=100000")
    run_dir = create_run(config, runs_dir=tmp_path)
    states = []
    done = threading.Event()

    def on_event(event):
        if isinstance(event, StatusChanged):
            states.append(event.state)

    from tui_rl.engine.run.trainer import Trainer

    trainer = Trainer(config, run_dir, on_event)
    # Two clients take turns; each sends its command only after the other's was queued.
    turns = [threading.Event() for _ in range(9)]

    def client(first_turn, command_type):
        for turn in range(first_turn, len(turns) - 1, 2):
            turns[turn].wait(PATIENCE_S)
            trainer.submit(command_type())
            turns[turn + 1].set()

    clients = [threading.Thread(target=client, args=(0, Pause)), threading.Thread(target=client, args=(1, Resume))]
    runner = threading.Thread(target=lambda: (trainer.run(), done.set()))
    runner.start()
    wait_until(lambda: "running" in states, what="the run to start")
    for thread in clients:
        thread.start()
    turns[0].set()
    for thread in clients:
        thread.join(PATIENCE_S)
    wait_until(lambda: trainer.commands.empty() and states[-1] == "running" and len(states) >= 9, what="all commands applied")
    assert states == ["running"] + ["paused", "running"] * 4
    trainer.stop("test over")
    assert done.wait(PATIENCE_S)
    assert trainer.state == "stopped"
