"""Actions of several parts train with the actor-critics: MultiDiscrete (one categorical per
dimension) and MultiBinary (one Bernoulli per switch). The algorithms that cannot act in them are
refused before a run starts, naming the ones that can. An env that says which actions are legal
(an ``action_mask``, in its Dict observation or its info; for a MultiDiscrete, flat over its parts'
choices) is only ever played legally, by PPO, A2C, DQN and discrete SAC: illegal actions get no
probability."""

from __future__ import annotations

import pytest

from tui_rl.cli import main
from tui_rl.config import validate
from tui_rl.engine.envs.making import action_kind, describe_specs, make_env
from tui_rl.engine.inspect.live_env import LiveEnvSession
from tui_rl.engine.policy.playback import play_episode
from tui_rl.engine.policy.weights import load_run_policy
from tui_rl.engine.runs.folder import read_history
from tui_rl.tui.widgets.step_table import legal_actions

SPACES = '''
import gymnasium
import numpy as np


class Switches(gymnasium.Env):
    """Paid 1 for each part of the action that is 1; 8 steps an episode."""

    observation_space = gymnasium.spaces.Box(-1, 1, (3,), np.float32)

    def __init__(self, action_space):
        self.action_space = action_space

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(3, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(3, np.float32), float(np.sum(np.asarray(action) == 1)), False, self.t >= 8, {}


def multi_discrete():
    return Switches(gymnasium.spaces.MultiDiscrete([3, 2]))


def even_multi_discrete():
    return Switches(gymnasium.spaces.MultiDiscrete([3, 3]))


def multi_binary():
    return Switches(gymnasium.spaces.MultiBinary(4))


class Locks(gymnasium.Env):
    """Each step two of four doors are open, at random: the observation does not say which, only
    the action mask does. An open door pays 1, a locked one costs 10; 16 steps an episode."""

    action_space = gymnasium.spaces.Discrete(4)

    def __init__(self, in_info=False, render_mode=None):
        self.in_info, self.render_mode = in_info, render_mode
        box = gymnasium.spaces.Box(-1, 1, (2,), np.float32)
        self.observation_space = box if in_info else gymnasium.spaces.Dict(
            {"observation": box, "action_mask": gymnasium.spaces.MultiBinary(4)})

    def observe(self):
        self.open = np.zeros(4, np.int8)
        self.open[self.np_random.choice(4, 2, replace=False)] = 1
        observation = np.zeros(2, np.float32)
        if self.in_info:
            return observation, {"action_mask": self.open}
        return {"observation": observation, "action_mask": self.open}, {}

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.observe()

    def step(self, action):
        reward = 1.0 if self.open[action] else -10.0
        self.t += 1
        observation, info = self.observe()
        return observation, reward, False, self.t >= 16, info


def dict_mask(**kwargs):
    return Locks(**kwargs)


class Panel(gymnasium.Env):
    """Two dials (MultiDiscrete ``choices``); each step the mask, flat over both dials' choices,
    forbids some settings of each at random (one or more left open). A step with every dial on an
    allowed setting pays 1, any other costs 10; 16 steps an episode."""

    observation_space = gymnasium.spaces.Dict({"observation": gymnasium.spaces.Box(-1, 1, (2,), np.float32)})

    def __init__(self, choices=(3, 2)):
        self.action_space = gymnasium.spaces.MultiDiscrete(list(choices))
        self.observation_space = gymnasium.spaces.Dict({
            "observation": gymnasium.spaces.Box(-1, 1, (2,), np.float32),
            "action_mask": gymnasium.spaces.MultiBinary(sum(choices)),
        })

    def observe(self):
        parts = []
        for n in self.action_space.nvec:
            allowed = self.np_random.integers(0, 2, n).astype(np.int8)
            allowed[self.np_random.integers(n)] = 1
            parts.append(allowed)
        self.allowed = parts
        return {"observation": np.zeros(2, np.float32), "action_mask": np.concatenate(parts)}

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.observe(), {}

    def step(self, action):
        legal = all(allowed[a] for allowed, a in zip(self.allowed, action))
        self.t += 1
        return self.observe(), 1.0 if legal else -10.0, False, self.t >= 16, {}


def multi_mask(render_mode=None):  # the inspector's live env asks for frames
    return Panel()


def even_multi_mask():
    return Panel((3, 3))


def wrong_width_mask():
    env = Panel()
    env.observation_space["action_mask"] = gymnasium.spaces.MultiBinary(6)
    return env


def info_mask():
    return Locks(in_info=True)
'''

#: a short run of the preset's settings
SHORT = ["--frames", "1024", "--set", "collector.frames_per_batch=128", "--set", "eval.episodes=2"]


@pytest.fixture
def spaces(tmp_path, monkeypatch):
    (tmp_path / "spaces.py").write_text(SPACES)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("maker, kind, shown", [("multi_discrete", "multi-discrete", "multi-discrete: [3, 2] choices"),
                                                ("even_multi_discrete", "multi-discrete", "multi-discrete: [3, 3] choices"),
                                                ("multi_binary", "binary", "binary [4]")])
@pytest.mark.parametrize("copies", [1, 4])
def test_the_specs_name_the_space(spaces, maker, kind, shown, copies):
    env = make_env(validate({"env": {"id": f"spaces.py:{maker}", "num_envs": copies}}))
    try:
        assert action_kind(env) == kind and describe_specs(env)["action"] == shown
    finally:
        env.close()


@pytest.mark.parametrize("preset", ["cartpole-ppo", "cartpole-a2c"])
@pytest.mark.parametrize("maker, best", [("multi_discrete", 16.0), ("multi_binary", 32.0)])
def test_the_actor_critics_train_on_actions_of_several_parts(spaces, runs_dir, capsys, preset, maker, best):
    code = main(["train", preset, "--set", f"env.id=spaces.py:{maker}", *SHORT, "--name", "parts",
                 "--runs-dir", str(runs_dir)])
    err = capsys.readouterr().err
    history = read_history(runs_dir / "parts")
    assert code == 0 and history.summary.status == "finished", err
    run = load_run_policy(runs_dir / "parts", purpose="evaluate")
    try:
        rollout = play_episode(run.env, run.policy, deterministic=True)  # the mode of each part
    finally:
        run.close()
    assert rollout["action"].shape[-1] == (2 if maker == "multi_discrete" else 4)
    assert float(rollout["next", "reward"].sum()) > best / 2, "it learned to set the parts that pay"


@pytest.mark.parametrize("preset", ["cartpole-dqn", "pendulum-sac", "pendulum-td3"])
@pytest.mark.parametrize("maker, kind", [("multi_discrete", "multi-discrete"), ("multi_binary", "binary")])
def test_the_others_refuse_the_space_before_a_run_folder_exists(spaces, runs_dir, capsys, preset, maker, kind):
    code = main(["train", preset, "--set", f"env.id=spaces.py:{maker}", "--frames", "256", "--runs-dir", str(runs_dir)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"spaces.py:{maker} has a {kind} one; choose one of ppo, a2c" in err
    assert "Traceback" not in err and not runs_dir.exists()


@pytest.mark.parametrize("maker, action", [
    ("dict_mask", "discrete: 4 actions"), ("info_mask", "discrete: 4 actions"),
    ("multi_mask", "multi-discrete: [3, 2] choices"), ("even_multi_mask", "multi-discrete: [3, 3] choices")])
def test_the_mask_is_read_and_is_no_observation(spaces, maker, action):
    env = make_env(validate({"env": {"id": f"spaces.py:{maker}", "num_envs": 2}}))
    try:
        specs = describe_specs(env)
        rollout = env.rollout(20)  # random actions, drawn from the masked spec
    finally:
        env.close()
    assert specs["observation"] == "observation: float32 [2]"
    assert specs["action"] == f"{action}, masked by the env's action_mask (the legal ones)"
    assert (rollout["next", "reward"] == 1).all(), "every random action was legal"
    if maker in ("dict_mask", "info_mask"):
        assert rollout["action_mask"].gather(-1, rollout["action"].unsqueeze(-1)).all()


def test_a_mask_that_does_not_fit_the_choices_is_refused_naming_the_field(spaces, runs_dir, capsys):
    code = main(["train", "cartpole-ppo", "--set", "env.id=spaces.py:wrong_width_mask", "--frames", "256",
                 "--runs-dir", str(runs_dir)])
    err = capsys.readouterr().err
    assert code == 2 and "env.id: spaces.py:wrong_width_mask gives an action mask of shape [6] for 5 choices" in err, err
    assert "Traceback" not in err and not runs_dir.exists()


@pytest.mark.parametrize("preset, maker, algorithm", [
    ("cartpole-ppo", "dict_mask", "ppo"), ("cartpole-a2c", "info_mask", "a2c"), ("cartpole-dqn", "dict_mask", "dqn"),
    ("cartpole-dqn", "dict_mask", "sac-discrete"), ("cartpole-ppo", "multi_mask", "ppo"),
    ("cartpole-a2c", "even_multi_mask", "a2c")])
def test_a_trained_policy_never_takes_an_illegal_action(spaces, runs_dir, capsys, preset, maker, algorithm):
    code = main(["train", preset, "--set", f"algorithm.name={algorithm}", "--set", f"env.id=spaces.py:{maker}",
                 *SHORT, "--name", "masked", "--runs-dir", str(runs_dir)])
    assert code == 0, capsys.readouterr().err
    run = load_run_policy(runs_dir / "masked", purpose="evaluate")
    try:
        for deterministic in (True, False, False):
            rollout = play_episode(run.env, run.policy, deterministic=deterministic)
            assert (rollout["next", "reward"] == 1).all(), "every door it took was open"
    finally:
        run.close()


def test_the_inspector_greys_out_the_illegal_actions(spaces):
    session = LiveEnvSession(validate({"env": {"id": "spaces.py:dict_mask"}, "algorithm": {"name": "ppo"}}))
    try:
        step = session.step_policy()
    finally:
        session.close()
    mask = step["action_mask"].tolist()
    probs = step["policy", "probs"].tolist()
    assert all(p == 0 for p, legal in zip(probs, mask) if not legal), "the policy's odds of a locked door are nil"
    shown = legal_actions(mask)
    greyed = {shown.plain[span.start:span.end] for span in shown.spans if "strike" in str(span.style)}
    assert greyed == {str(i) for i, legal in enumerate(mask) if not legal} and len(greyed) == 2


def test_the_inspector_gives_each_dial_of_a_multi_part_action_its_own_odds(spaces):
    session = LiveEnvSession(validate({"env": {"id": "spaces.py:multi_mask"}, "algorithm": {"name": "ppo"}}))
    try:
        step = session.step_policy()
    finally:
        session.close()
    mask, probs = step["action_mask"], step["policy", "probs"]
    first, second = probs.split([3, 2], dim=-1)  # the panel's two dials
    assert first.sum().item() == pytest.approx(1.0) and second.sum().item() == pytest.approx(1.0)
    assert (probs[~mask] == 0).all(), "no odds for a forbidden setting"


@pytest.mark.parametrize("maker, algorithm", [("dict_mask", "sac-discrete"), ("multi_mask", "ppo"),
                                              ("even_multi_mask", "a2c")])
def test_illegal_actions_get_no_probability_and_the_losses_stay_finite(spaces, maker, algorithm):
    import torch

    from tui_rl.engine.algorithms import build_algorithm

    config = validate({"env": {"id": f"spaces.py:{maker}", "num_envs": 4}, "algorithm": {"name": algorithm}})
    env = make_env(config)
    try:
        batch = env.rollout(8)  # random legal actions, as a first batch would hold
        built = build_algorithm(config, env, "cpu")
    finally:
        env.close()
    dist = built.eval_policy.get_dist(batch)
    mask = batch["action_mask"]
    parts = getattr(dist, "parts", [dist])
    probs = torch.cat([part.probs for part in parts], dim=-1)
    assert probs.shape == mask.shape and (probs[~mask] == 0).all() and (probs[mask] > 0).all()
    drawn = dist.sample()
    legal = (mask.gather(-1, drawn.unsqueeze(-1)) if len(parts) == 1 else
             torch.stack([part_mask.gather(-1, drawn[..., i:i + 1]) for i, part_mask in
                          enumerate(mask.split([p.probs.shape[-1] for p in parts], dim=-1))], -1))
    assert legal.all(), "every action drawn is legal"
    if algorithm == "sac-discrete":  # every action's log-probability weighed by its probability: 0, not NaN
        losses = built.loss_module(batch.reshape(-1))
        assert all(torch.isfinite(losses[key]).all() for key in ("loss_actor", "loss_qvalue", "loss_alpha"))
