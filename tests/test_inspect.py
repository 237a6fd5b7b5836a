"""The inspector's engine: a live env stepped by hand or by the policy, saved rollouts (tensors
only, never unpickled), playback of an episode, the policy's outputs beside each step, and the
evaluation of a trained run folder (with a recorded video)."""

from __future__ import annotations


import pytest
import torch
from conftest import cartpole_dqn, crafted_rollout, trained_run, wait_until
from tensordict import TensorDict

from tui_rl.config.algorithms import DDPGConfig, PPOConfig, SACConfig
from tui_rl.config.models import EnvConfig, RunConfig
from tui_rl.engine.inspect.evaluate import EvalError, evaluate_run
from tui_rl.engine.envs.frames import PIXELS_KEY, downscale_frame
from tui_rl.engine.inspect.live_env import ActionError, LiveEnvSession
from tui_rl.engine.policy.outputs import POLICY_KEY, with_policy_outputs
from tui_rl.engine.inspect.rollout_sources import completed, load_source
from tui_rl.engine.inspect.rollouts import RolloutError, list_rollouts, load_rollout, save_rollout
from tui_rl.engine.runs.folder import read_summary
from tui_rl.engine.runs.record import create_run
from tui_rl.engine.policy.weights import WeightsError

torch.set_num_threads(1)


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
    annotated = with_policy_outputs(plain, session.algorithm)
    assert torch.allclose(annotated.get((POLICY_KEY, "action_value")), session.rollout.get((POLICY_KEY, "action_value")))
    assert POLICY_KEY not in plain.keys()
    # without the trainer's outputs, the inspector builds the policy from the config and weights
    rebuilt, note = completed(plain, cartpole_dqn(), session.policy.state_dict())
    assert note == "" and torch.allclose(rebuilt.get((POLICY_KEY, "action_value")), annotated.get((POLICY_KEY, "action_value")))


def test_a_rollout_that_came_with_policy_outputs_is_shown_as_it_came(session):
    """The trainer adds the outputs before sending: nothing is built here (an env id that does
    not exist would fail the moment anything tried)."""
    session.step_random()
    unbuildable = RunConfig(env=EnvConfig(id="NoSuchEnv-v0"))
    received = session.rollout
    rollout, note = completed(received, unbuildable, weights=None)
    assert rollout is received and note == ""


def test_a_rollout_without_what_the_policy_reads_says_so(session):
    session.step_random()
    bare = session.rollout.exclude(POLICY_KEY, "observation")
    assert with_policy_outputs(bare, session.policy) is bare
    _, note = completed(bare, cartpole_dqn(), session.policy.state_dict())
    assert "no policy outputs: the rollout has no observation" in note


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
    first, skipped = save_rollout(tmp_path, session.rollout, "live episode/1")
    second, _ = save_rollout(tmp_path, session.rollout, "live episode/1")
    assert first.name == "live-episode-1" and second.name == "live-episode-1-2" and skipped == []
    assert set(list_rollouts(tmp_path)) == {first, second}
    loaded, skipped = load_rollout(first)
    assert loaded.batch_size == torch.Size([4]) and skipped == []
    assert (loaded == session.rollout).all()
    rollout, description = load_source("saved", cartpole_dqn(), None, first)
    assert rollout.batch_size == torch.Size([4]) and "live-episode-1" in description


def test_a_pickle_in_a_saved_rollout_is_never_run_its_entry_is_skipped_and_named(tmp_path):
    marker = tmp_path / "pwned"
    folder = crafted_rollout(tmp_path, marker)
    loaded, skipped = load_rollout(folder)
    assert not marker.exists()
    assert skipped == ["info"] and "info" not in loaded.keys()
    assert loaded.get(("next", "reward")).shape == (4, 1)  # the tensors are all there
    rollout, description = load_source("saved", cartpole_dqn(), tmp_path, folder)
    assert not marker.exists()
    assert "skipped, not tensors: info" in description and rollout.batch_size == torch.Size([4])


def test_a_pickle_planted_anywhere_in_a_rollout_is_refused_not_run(tmp_path):
    """A pickle beside a tensor's file, or where tensordict would not look for one: still never run."""
    marker = tmp_path / "pwned"
    folder = crafted_rollout(tmp_path, marker)
    (folder / "other.pickle").write_bytes((folder / "info" / "other.pickle").read_bytes())
    with pytest.raises(RolloutError, match="pickled data, which is never loaded"):
        load_rollout(folder)
    assert not marker.exists()


def test_non_tensor_entries_are_left_out_of_a_saved_rollout(tmp_path):
    from tensordict import NonTensorData

    steps = torch.zeros(3, 2)
    td = TensorDict({"observation": steps, "note": NonTensorData("hello", batch_size=[3])}, batch_size=[3])
    path, skipped = save_rollout(tmp_path, td, "with a note")
    assert skipped == ["note"] and not list(path.rglob("*.pickle"))
    loaded, _ = load_rollout(path)
    assert list(loaded.keys()) == ["observation"]


def test_a_folder_that_is_not_a_rollout_gives_a_clear_error(tmp_path):
    with pytest.raises(RolloutError, match="not a saved rollout"):
        load_rollout(tmp_path)


def test_frames_are_shrunk_by_averaging_so_thin_lines_stay_visible():
    frame = torch.full((400, 600, 3), 255, dtype=torch.uint8).numpy()
    frame[200, :, :] = 0  # a one-pixel track line
    small = downscale_frame(frame, max_width=160)
    assert small.shape == (100, 150, 3)
    assert small[50].max() < 255  # the line still darkens its row


def test_evaluating_a_trained_run_reports_returns_and_records_a_video(tmp_path):
    run_dir = trained_run(tmp_path)
    report = evaluate_run(run_dir, episodes=2, record=True)
    assert report.checkpoint_frames == 512
    assert len(report.returns) == 2 and all(value >= 1 for value in report.returns)
    assert report.lengths == [int(value) for value in report.returns]  # CartPole: +1 a step
    assert "checkpoint at 512 frames" in report.summary()
    assert report.video is not None and report.video.parent == run_dir / "metrics" / "videos"
    assert report.video.suffix == ".mp4"  # its frames: tests/test_video.py


def test_the_eval_source_plays_an_episode_of_the_checkpoint_with_frames(tmp_path):
    run_dir = trained_run(tmp_path)
    rollout, description = load_source("eval", cartpole_dqn(), run_dir)
    assert "checkpoint at 512 frames" in description
    assert rollout.get(("next", "done"))[-1].item()
    assert rollout.get(PIXELS_KEY).shape[0] == rollout.batch_size[0]
    assert rollout.get((POLICY_KEY, "action_value")).shape == (rollout.batch_size[0], 2)


def test_an_episode_is_played_to_its_end_or_cut_at_the_cap():
    from tui_rl.engine.envs.making import make_env
    from tui_rl.engine.policy.playback import MAX_RECORDED_STEPS, episode_return, play_episode, was_cut

    env = make_env(cartpole_dqn(), num_envs=3)  # copies of a vector env: the one that ended
    live = LiveEnvSession(cartpole_dqn())
    try:
        episode = play_episode(env, live.policy, deterministic=True)
        assert episode.ndim == 1 and episode.get(("next", "done"))[-1].item()
        assert not episode.get(("next", "done"))[:-1].any()
        assert episode_return(episode) == episode.batch_size[0]  # CartPole: +1 a step
        cut = play_episode(env, live.policy, deterministic=True, max_steps=3)
        assert cut.batch_size[0] == 3 and was_cut(cut, 3) and not was_cut(episode, MAX_RECORDED_STEPS)
        # the inspector's evaluation episode: played by the same function, frames and outputs kept
        played = live.play_episode(max_steps=4)
        assert played.batch_size[0] <= 4 and played.get(PIXELS_KEY).shape[0] == played.batch_size[0]
        assert (POLICY_KEY, "action_value") in played.keys(True) and ("next", PIXELS_KEY) not in played.keys(True)
    finally:
        env.close()
        live.close()


def test_a_run_without_a_checkpoint_cannot_be_evaluated(tmp_path):
    run_dir = create_run(cartpole_dqn(), name="fresh", runs_dir=tmp_path)
    with pytest.raises(EvalError, match="no checkpoint to evaluate yet"):
        evaluate_run(run_dir, episodes=1)


def test_rollouts_and_weights_come_from_a_running_trainer(tmp_path, monkeypatch):
    """The trainer's latest episode and a replay sample arrive with the policy's outputs added,
    each over one connection, and a live env gets the trainer's weights; the trainer keeps
    training throughout."""
    from tui_rl.config import apply_overrides
    from tui_rl.engine.channel.handle import RunHandle
    from tui_rl.engine.inspect.rollout_sources import live_session_for, run_weights

    config = apply_overrides(cartpole_dqn(), [
        "collector.frames_per_batch=64", "collector.total_frames=100000000",
        "replay_buffer.batch_size=32", "network.hidden_sizes=[32]",
        "eval.every_frames=100000000", "checkpoint.every_frames=100000000",
    ])
    handle = RunHandle.start(config, name="live", runs_dir=tmp_path)
    try:
        wait_until(lambda: read_summary(handle.run_dir).episodes >= 2, what="two finished episodes")
        connections = []
        attach = RunHandle.attach
        monkeypatch.setattr(RunHandle, "attach", lambda *args, **kwargs: connections.append(args) or attach(*args, **kwargs))
        latest, description = load_source("latest", config, handle.run_dir)
        assert len(connections) == 1
        assert description == "latest episode from the trainer"
        assert latest.get(("next", "done"))[-1].item()
        assert latest.get((POLICY_KEY, "action_value")).shape == (latest.batch_size[0], 2)
        replay, description = load_source("replay", config, handle.run_dir)
        assert description == "replay buffer sample of transitions"
        assert replay.batch_size == torch.Size([32]) and (POLICY_KEY, "action_value") in replay.keys(True)
        assert len(connections) == 2
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


def test_a_long_live_session_keeps_its_latest_steps_only():
    from tui_rl.engine.inspect.live_env import GrowingRollout

    steps = GrowingRollout(capacity=4, limit=10)
    for index in range(23):
        steps.append(TensorDict({"index": torch.tensor(index)}, batch_size=[]))
    assert steps.view.get("index").tolist() == list(range(15, 23))
    assert steps.dropped == 15 and len(steps) == 8
