"""The inspector's engine: a live env stepped by hand or by the policy, saved rollouts, and the
evaluation of a trained run folder (with a recorded video)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from tui_rl.config.models import DDPGConfig, EnvConfig, PPOConfig, RunConfig, SACConfig
from tui_rl.engine.evaluate import EvalError, evaluate_run
from tui_rl.engine.inspect import (
    PIXELS_KEY,
    POLICY_KEY,
    ActionError,
    LiveEnvSession,
    WeightsError,
    annotate_policy_outputs,
    downscale_frame,
    load_source,
)
from tui_rl.engine.rollouts import RolloutError, list_rollouts, load_rollout, save_rollout
from tui_rl.engine.runfolder import create_run, read_summary

torch.set_num_threads(1)


def cartpole_dqn() -> RunConfig:
    return RunConfig(env=EnvConfig(id="CartPole-v1", seed=3))


@pytest.fixture
def session():
    live = LiveEnvSession(cartpole_dqn())
    yield live
    live.close()


def test_each_step_grows_the_rollout_with_the_rendered_frame_and_the_q_values(session):
    assert session.rollout.batch_size == torch.Size([0])
    session.step_policy()
    session.step_action(1)
    session.step_random()
    rollout = session.rollout
    assert rollout.batch_size == torch.Size([3])
    assert rollout.get("action")[1].item() == 1
    frames = rollout.get(PIXELS_KEY)
    assert frames.dtype == torch.uint8 and frames.shape[-1] == 3 and frames.shape[2] <= 160
    assert frames[0].float().std() > 0  # a drawn cart, not a blank image
    q_values = rollout.get((POLICY_KEY, "action_value"))
    assert q_values.shape == (3, 2)
    # stepping by the policy takes the action with the highest Q-value
    assert rollout.get("action")[0].item() == q_values[0].argmax().item()
    assert rollout.get(("next", "reward")).shape == (3, 1)


def test_the_frames_follow_the_env_as_it_is_pushed(session):
    for _ in range(8):
        session.step_action(0)
    frames = session.rollout.get(PIXELS_KEY)
    assert frames.shape[0] == 8
    assert not torch.equal(frames[0], frames[-1])  # pushed left 8 times: the cart has moved


def test_after_an_episode_ends_the_next_step_starts_a_new_one(session):
    for _ in range(200):
        session.step_action(1)  # always pushing right: the pole falls within a few dozen steps
        if session.needs_reset:
            break
    ended_at = session.rollout.batch_size[0] - 1
    assert session.rollout.get(("next", "done"))[ended_at].item()
    session.step_action(0)
    assert session.rollout.get("step_count")[-1].item() == 0  # a fresh episode
    assert session.episodes == 2


@pytest.mark.parametrize(
    "bad, says",
    [(2, "choose one of 0..1"), ("left", "'left' is not a number"), (0.5, "not an action"), ("", "type a number")],
)
def test_an_action_the_env_cannot_take_is_refused_with_the_reason(session, bad, says):
    with pytest.raises(ActionError, match=says):
        session.step_action(bad)
    assert session.rollout.batch_size == torch.Size([0])  # nothing was stepped


def test_continuous_actions_are_checked_against_the_bounds():
    live = LiveEnvSession(RunConfig(env=EnvConfig(id="Pendulum-v1"), algorithm=SACConfig()))
    try:
        live.step_action("1.5")
        with pytest.raises(ActionError, match=r"out of bounds.*\[-2, 2\]"):
            live.step_action("3")
        with pytest.raises(ActionError, match="takes 1 value"):
            live.step_action([0.1, 0.2])
        assert live.rollout.get("action")[0].tolist() == [1.5]
        # SAC's action distribution (before its tanh squashing) beside the step
        assert set(live.rollout.get(POLICY_KEY).keys()) >= {"loc", "scale", "action"}
    finally:
        live.close()


def test_ppo_shows_its_action_probabilities():
    live = LiveEnvSession(RunConfig(algorithm=PPOConfig()))
    try:
        live.step_policy()
        probs = live.rollout.get((POLICY_KEY, "probs"))
        assert probs.shape == (1, 2)
        assert probs.sum().item() == pytest.approx(1.0)
        assert live.rollout.get("action")[0].item() == probs[0].argmax().item()  # deterministic: the mode
    finally:
        live.close()


def test_ddpg_shows_its_deterministic_action():
    live = LiveEnvSession(RunConfig(env=EnvConfig(id="Pendulum-v1"), algorithm=DDPGConfig()))
    try:
        live.step_policy()
        assert torch.equal(live.rollout.get("action"), live.rollout.get((POLICY_KEY, "action")))
    finally:
        live.close()


def test_policy_outputs_can_be_added_to_a_rollout_from_elsewhere(session):
    for _ in range(5):
        session.step_random()
    plain = session.rollout.exclude(POLICY_KEY)
    weights = session.policy.state_dict()
    annotated = annotate_policy_outputs(plain, cartpole_dqn(), weights)
    assert torch.allclose(annotated.get((POLICY_KEY, "action_value")), session.rollout.get((POLICY_KEY, "action_value")))
    assert POLICY_KEY not in plain.keys()


def test_weights_of_another_network_are_refused(session):
    wider = RunConfig(network={"hidden_sizes": [8]})
    other = LiveEnvSession(wider)
    try:
        with pytest.raises(WeightsError, match="do not fit the dqn policy"):
            session.load_weights(other.policy.state_dict())
    finally:
        other.close()


def test_a_saved_rollout_loads_back_equal_and_is_listed(session, tmp_path):
    for _ in range(4):
        session.step_random()
    first = save_rollout(tmp_path, session.rollout, "live episode/1")
    second = save_rollout(tmp_path, session.rollout, "live episode/1")
    assert first.name == "live-episode-1" and second.name == "live-episode-1-2"
    assert set(list_rollouts(tmp_path)) == {first, second}
    loaded = load_rollout(first)
    assert loaded.batch_size == torch.Size([4])
    assert (loaded == session.rollout).all()
    rollout, description = load_source("saved", cartpole_dqn(), None, first)
    assert rollout.batch_size == torch.Size([4]) and "live-episode-1" in description


def test_a_folder_that_is_not_a_rollout_gives_a_clear_error(tmp_path):
    with pytest.raises(RolloutError, match="not a saved rollout"):
        load_rollout(tmp_path)


def test_frames_are_shrunk_by_averaging_so_thin_lines_stay_visible():
    frame = torch.full((400, 600, 3), 255, dtype=torch.uint8).numpy()
    frame[200, :, :] = 0  # a one-pixel track line
    small = downscale_frame(frame, max_width=160)
    assert small.shape == (100, 150, 3)
    assert small[50].max() < 255  # the line still darkens its row


def trained_run(runs_dir: Path) -> Path:
    """A CartPole DQN run trained for 512 frames by the real training loop, with checkpoints."""
    from tui_rl.engine.trainer import Trainer

    config = cartpole_dqn()
    config.collector.total_frames = 512
    config.collector.frames_per_batch = 128
    config.eval.every_frames = 100_000
    config.eval.episodes = 1
    config.checkpoint.every_frames = 256
    config.replay_buffer.size = 1_000
    config.replay_buffer.batch_size = 32
    run_dir = create_run(config, name="tiny", runs_dir=runs_dir)
    assert Trainer(config, run_dir).run() == "finished"
    return run_dir


def test_evaluating_a_trained_run_reports_returns_and_records_a_video(tmp_path):
    run_dir = trained_run(tmp_path)
    report = evaluate_run(run_dir, episodes=2, record=True)
    assert report.checkpoint_frames == 512
    assert len(report.returns) == 2 and all(value >= 1 for value in report.returns)
    assert report.lengths == [int(value) for value in report.returns]  # CartPole: +1 a step
    assert "checkpoint at 512 frames" in report.summary()
    assert report.video is not None and report.video.parent == run_dir / "metrics" / "videos"
    if report.video.suffix == ".gif":  # no torchcodec here: Pillow's GIF
        with Image.open(report.video) as gif:
            assert gif.n_frames >= report.lengths[0] // 2  # one frame every 2 steps
            assert gif.info["loop"] == 0
            gif.seek(gif.n_frames - 1)
            assert gif.convert("RGB").getextrema() != ((0, 0), (0, 0), (0, 0))  # not blank


def test_the_eval_source_plays_an_episode_of_the_checkpoint_with_frames(tmp_path):
    run_dir = trained_run(tmp_path)
    rollout, description = load_source("eval", cartpole_dqn(), run_dir)
    assert "checkpoint at 512 frames" in description
    assert rollout.get(("next", "done"))[-1].item()
    assert rollout.get(PIXELS_KEY).shape[0] == rollout.batch_size[0]


def test_a_run_without_a_checkpoint_cannot_be_evaluated(tmp_path):
    run_dir = create_run(cartpole_dqn(), name="fresh", runs_dir=tmp_path)
    with pytest.raises(EvalError, match="no checkpoint to evaluate yet"):
        evaluate_run(run_dir, episodes=1)


def test_rollouts_and_weights_come_from_a_running_trainer(tmp_path):
    """The trainer's latest episode and a replay sample arrive with the policy's outputs added,
    and a live env gets the trainer's weights; the trainer keeps training throughout."""
    from tui_rl.config import apply_overrides
    from tui_rl.engine.handle import RunHandle
    from tui_rl.engine.inspect import live_session_for, run_weights

    config = apply_overrides(cartpole_dqn(), [
        "collector.frames_per_batch=64", "collector.total_frames=100000000",
        "replay_buffer.batch_size=32", "network.hidden_sizes=[32]",
        "eval.every_frames=100000000", "checkpoint.every_frames=100000000",
    ])
    handle = RunHandle.start(config, name="live", runs_dir=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while read_summary(handle.run_dir).episodes < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        latest, description = load_source("latest", config, handle.run_dir)
        assert description == "latest episode from the trainer"
        assert latest.get(("next", "done"))[-1].item()
        assert latest.get((POLICY_KEY, "action_value")).shape == (latest.batch_size[0], 2)
        replay, _ = load_source("replay", config, handle.run_dir)
        assert replay.batch_size == torch.Size([32]) and (POLICY_KEY, "action_value") in replay.keys(True)
        weights = run_weights(handle.run_dir)
        assert isinstance(weights, dict)  # the live trainer's, not the (absent) checkpoint
        live = live_session_for(config, handle.run_dir)
        live.step_policy()
        assert live.weights_note == "the trainer's latest weights"
        live.close()
        assert read_summary(handle.run_dir).status == "running"
    finally:
        handle.stop()
        handle.process.wait(timeout=60)
