"""An env that observes a Tuple (Blackjack: the player's sum, the dealer's card, a usable ace) trains
as it comes: each observation is flattened into one float vector, its discrete parts one-hot, and the
specs say so."""

from __future__ import annotations

from tui_rl.cli import main
from tui_rl.config import validate
from tui_rl.engine.envs.making import describe_specs, make_env
from tui_rl.engine.runs.folder import read_history


def test_blackjack_is_flattened_one_hot_and_the_specs_say_so():
    env = make_env(validate({"env": {"id": "Blackjack-v1", "num_envs": 2}}))
    try:
        observation = env.rollout(1)["observation"]
        specs = describe_specs(env)
    finally:
        env.close()
    assert observation.shape == (2, 1, 32 + 11 + 2) and observation.dtype.is_floating_point
    assert (observation.sum(-1) == 3).all()  # one hot entry per part
    assert specs["flattened"].startswith("observation = Tuple(Discrete(32), Discrete(11), Discrete(2)) flattened")


def test_blackjack_trains_headless(runs_dir):
    code = main(["train", "cartpole-ppo", "--set", "env.id=Blackjack-v1", "--frames", "512",
                 "--set", "collector.frames_per_batch=128", "--set", "eval.episodes=2", "--name", "blackjack",
                 "--runs-dir", str(runs_dir)])
    assert code == 0 and read_history(runs_dir / "blackjack").summary.status == "finished"
