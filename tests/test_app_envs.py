"""Image envs in the app: picking an Atari env brings its standard preprocessing, a missing family
says which extra to install, and the inspector draws an image observation layer by layer."""

from __future__ import annotations

import sys

import numpy as np
import torch
from textual.widgets import OptionList
from conftest import needs, renderable_text, screen_text, settle, until, words_on_screen

from tui_rl.config import validate
from tui_rl.engine.envs.families import FAMILIES
from tui_rl.engine.envs.making import preview_rollout
from tui_rl.engine.envs.observation_image import image_layers
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.screens.inspector.screen import InspectorScreen
from tui_rl.tui.widgets.frame_view import FrameView
from tui_rl.tui.widgets.spec_view import SpecView

SMALL = (80, 24)
torch.set_num_threads(1)


async def test_picking_an_atari_env_in_the_list_brings_its_preprocessing_and_image_specs():
    needs("ale_py", "atari")
    app = TuiRlApp()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"Pong-v5")
        await until(pilot, lambda: "ALE/Pong-v5" in screen_text(app), what="the Atari group in the list")
        assert "Atari (ALE)" in screen_text(app)  # the group the id is listed under
        await pilot.press("enter")
        await settle(pilot)
        assert app.config.env.id == "ALE/Pong-v5"
        assert app.config.env.kwargs == {"frameskip": 1}
        assert [t.name for t in app.config.transforms] == [t["name"] for t in FAMILIES["atari"].transforms]
        spec_view = app.screen.query_one(SpecView)
        await until(pilot, lambda: "Building" not in renderable_text(spec_view.content), what="the spec probe")
        assert "observation: uint8 [4x84x84]" in renderable_text(spec_view.content)
        await pilot.press("escape", "right_square_bracket")  # the Transforms tab shows the stack
        await pilot.pause()
        shown = words_on_screen(app)
        for name in ("RenameTransform", "NoopResetEnv", "FrameSkipTransform(frame_skip=4)", "EndOfLifeTransform"):
            assert name in shown


async def test_a_family_without_its_package_says_which_extra_installs_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "minatar", None)
    app = TuiRlApp()
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"minatar")
        await until(pilot, lambda: "not installed" in screen_text(app), what="the missing family's line")
        prompts = [str(option.prompt) for option in app.screen.query_one("#env-list", OptionList).options]
        assert prompts == ["MinAtar", "  not installed: MinAtar envs need minatar: pip install 'tui-rl[minatar]'"]
        assert "tui-rl[minatar]" in words_on_screen(app)


async def test_the_inspector_draws_an_atari_frame_stack_frame_by_frame():
    needs("ale_py", "atari")
    family = FAMILIES["atari"]
    config = validate({"env": {"id": "ALE/Pong-v5", "kwargs": family.kwargs, "seed": 2},
                       "transforms": list(family.transforms)})
    app = TuiRlApp(config, preset_name="test")
    app.preview_rollout = rollout = preview_rollout(config, max_steps=8)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("4")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, InspectorScreen) and screen.rollout is rollout
        view = screen.query_one(FrameView)
        await pilot.press("right", "right")
        observation = rollout["observation"][2]
        # the newest of the four frames first, drawn from the observation itself
        assert view.layer_label == "channel 4 of 4"
        assert np.array_equal(view.frame_layers[view.shown_layer].frame[..., 0], observation[3].numpy())
        assert "channel 4 of 4 · f next" in screen_text(app)
        await pilot.press("f")
        assert view.layer_label == "channel 3 of 4"
        assert np.array_equal(view.frame_layers[view.shown_layer].frame[..., 0], observation[2].numpy())
        await pilot.press("right")  # stepping keeps the frame of the stack chosen
        assert screen.step == 3 and view.layer_label == "channel 3 of 4"
        assert np.array_equal(view.frame_layers[view.shown_layer].frame[..., 0], rollout["observation"][3][2].numpy())
        assert "channel 3 of 4 · f next" in screen_text(app)


def test_object_channels_are_drawn_together_in_colours_then_one_by_one():
    channels = np.zeros((4, 10, 10), np.float32)
    channels[0, 9, 4] = 1  # a paddle
    channels[3, 1:4] = 1  # bricks
    layers = image_layers(channels)
    assert [layer.label for layer in layers] == ["all 4 channels", *(f"channel {i} of 4" for i in (4, 3, 2, 1))]
    together = layers[0].frame
    assert together.shape == (10, 10, 3) and together.dtype == np.uint8
    assert together[9, 4].any() and together[2, 0].any() and not together[6, 6].any()
    assert not np.array_equal(together[9, 4], together[2, 0])  # paddle and bricks in two colours
    assert (layers[1].frame[1:4] == 255).all() and (layers[1].frame[4:] == 0).all()
    # an RGB frame as Gymnasium gives it is one layer; a vector is no image
    assert [layer.label for layer in image_layers(np.zeros((210, 160, 3), np.uint8))] == ["RGB"]
    assert image_layers(np.zeros(4, np.float32)) == []
