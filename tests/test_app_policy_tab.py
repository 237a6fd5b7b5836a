"""The Policy tab offers the network that fits the observation: a user picks an encoder and a memory
core, sees the shapes the network will see (by key for a Dict), and is told at once what does not fit
and why."""

from __future__ import annotations

import gymnasium
import numpy as np
from conftest import Posted, choose, settle, until, words_on_screen

from tui_rl.config import validate
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.widgets.hparam_form import FieldForm

WIDE = (160, 50)


def shapes_line(app) -> str:
    return str(app.screen.query_one("#network-shapes").render())


async def test_a_convnet_on_cartpole_is_refused_with_the_reason_and_memory_shows_its_shapes():
    app, posted = TuiRlApp(), Posted()
    async with app.run_test(size=WIDE, message_hook=posted) as pilot:
        await settle(pilot)
        await pilot.press("escape", "right_square_bracket", "right_square_bracket")  # the Policy tab
        await until(pilot, lambda: "Shapes: 4 -> heads [64, 64]" in shapes_line(app), what="the shapes")

        await choose(pilot, "network.encoder", "convnet")
        await until(pilot, lambda: app.screen.invalid_fields == ["network.encoder"], what="the refusal")
        shown = words_on_screen(app)
        assert "convnet reads images [C, H, W]; CartPole-v1 gives a vector [4]: use mlp" in shown
        assert [m.path for m in posted.of(FieldForm.Invalid)] == ["network.encoder"]
        await pilot.press("escape", "s")  # no run starts while the network does not fit
        await pilot.pause()
        assert app.current_mode == "setup"

        await choose(pilot, "network.encoder", "mlp")
        await choose(pilot, "network.recurrent", "lstm")
        await until(pilot, lambda: "Shapes: 4 -> lstm 128 -> heads [64, 64]" in shapes_line(app), what="lstm")
        assert app.screen.invalid_fields == []
        assert (app.config.network.encoder, app.config.network.recurrent) == ("mlp", "lstm")


async def test_memory_with_an_algorithm_that_has_none_is_refused_as_you_choose_it():
    app = TuiRlApp()
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"Pendulum-v1", "enter")
        await settle(pilot)
        await pilot.press("escape", "right_square_bracket", "right_square_bracket")
        await until(pilot, lambda: app.config.algorithm.name == "ddpg", what="the switch to DDPG")
        await choose(pilot, "network.recurrent", "gru")
        await until(pilot, lambda: app.screen.invalid_fields == ["network.recurrent"], what="the refusal")
        note = app.screen.query_one("#field-network-recurrent").parent.query_one(".field-note")
        assert "✗ ddpg takes no memory core: choose none, or an algorithm that does: dqn, ppo, a2c" in str(note.render())
        assert app.config.network.recurrent == "none"


class Drone(gymnasium.Env):
    """Sees a small camera image and where it is; does nothing (only its specs are read)."""

    observation_space = gymnasium.spaces.Dict({"camera": gymnasium.spaces.Box(0, 255, (3, 12, 12), np.uint8),
                                               "pos": gymnasium.spaces.Box(-1, 1, (2,), np.float32)})
    action_space = gymnasium.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, True, {}


gymnasium.register("TuiRlTest/Drone-v0", entry_point=Drone)


async def test_a_dict_observation_shows_its_keys_and_shapes_and_a_convnet_per_image():
    config = validate({"env": {"id": "TuiRlTest/Drone-v0"}, "algorithm": {"name": "ppo"},
                       "network": {"conv_channels": [4], "conv_kernels": [4], "conv_strides": [2]}})
    app = TuiRlApp(config)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        await pilot.press("escape", "right_square_bracket", "right_square_bracket")
        await until(pilot, lambda: "Keys: camera [3x12x12], pos [2]" in shapes_line(app), what="the keys")
        assert "Shapes: camera 3x12x12 -> conv 4x5x5 -> 100 | pos 2 -> 102 -> heads [64, 64]" in shapes_line(app)
