"""The app shell and the Setup screen, driven like a user at an 80x24 terminal with the keyboard."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import Posted, choose, renderable_text, screen_text, settle, toasts, until, words_on_screen
from textual.binding import Binding

from tui_rl.config import ConfigError, FieldError, load_file, load_preset
from tui_rl.engine.envs.transforms import TRANSFORMS
from tui_rl.tui import modes as modes_module
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.commands import BindingCommands
from tui_rl.tui.modes import UnavailableScreen
from tui_rl.tui.screens.help import HelpScreen
from tui_rl.tui.screens.save_preset import SavePresetScreen
from tui_rl.tui.widgets.algorithm_picker import AlgorithmPicker
from tui_rl.tui.widgets.hparam_form import FieldForm, HparamForm, message_for
from tui_rl.tui.widgets.spec_view import SpecView

SMALL = (80, 24)


def picker_words(app) -> str:
    """The algorithm picker's notes as shown, one line: the network form beside them at 80x24
    interleaves its rows with theirs in the screen's text."""
    notes = app.screen.query("#algorithm-fit, #algorithm-changes")
    return " ".join(" ".join(str(note.render()).split()) for note in notes if note.display)


async def clear_and_type(pilot, text: str) -> None:
    await pilot.press("ctrl+a", "ctrl+k", *text)


async def test_opens_on_cartpole_dqn_with_its_specs():
    app = TuiRlApp()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        shown = screen_text(app)
        assert app.current_mode == "setup"
        assert "cartpole-dqn" in shown  # the header names the preset
        assert "Env  CartPole-v1" in shown
        assert "discrete: 2 actions" in shown
        assert "/ to search" in shown  # the list has the focus (single keys work): say how to search
        assert app.config == load_preset("cartpole-dqn")


async def test_search_pendulum_shows_continuous_actions_and_drops_dqn():
    app, posted = TuiRlApp(), Posted()
    async with app.run_test(size=SMALL, message_hook=posted) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"Pendulum", "enter")
        await settle(pilot)
        assert app.config.env.id == "Pendulum-v1"
        assert "continuous [1]" in screen_text(app)
        specs = renderable_text(app.screen.query_one("#spec-view").content)
        assert "action      continuous [1] in [-2, 2]" in specs

        await pilot.press("escape", "right_square_bracket", "right_square_bracket")  # Policy tab
        await pilot.pause()
        shown = picker_words(app)
        assert "Pendulum-v1 has continuous actions: DQN, SAC-DISCRETE cannot act in it." in shown
        assert app.screen.query_one("#algorithm-dqn").disabled
        assert not app.screen.query_one("#algorithm-sac").disabled
        # The config moved to an algorithm that can act in the env, kept the tuned values both
        # share, and says so; the user chose nothing, so no choice was posted.
        assert app.config.algorithm.name == "ddpg"
        assert (app.config.algorithm.gamma, app.config.algorithm.updates_per_batch) == (0.98, 32)
        assert "Training with DDPG." in shown
        assert "kept from DQN: gamma 0.98, updates_per_batch 32" in shown
        assert posted.of(AlgorithmPicker.Chosen) == []

        # Back on CartPole the switch back gives the preset's DQN again, not DQN's defaults.
        await pilot.press("slash", *"CartPole-v1", "enter")
        await settle(pilot)
        await until(pilot, lambda: app.config.algorithm.name == "dqn", what="the switch back to DQN")
        assert app.config == load_preset("cartpole-dqn")


async def test_specs_show_shapes_in_brackets_and_list_the_bookkeeping_apart():
    app = TuiRlApp()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"FrozenLake-v1", "enter")  # its observation is one integer, one-hot encoded
        view = app.screen.query_one("#spec-view")
        await until(pilot, lambda: app.config.env.id == "FrozenLake-v1" and view.kind is not None, what="the specs")
        specs = {line.split(maxsplit=1)[0]: line.split(maxsplit=1)[1].strip()
                 for line in renderable_text(view.content).splitlines() if line.strip()}
        assert specs["observation"] == "observation: float32 [16]"
        # not the markup tag [scalar]
        assert specs["one-hot"] == "the env gives one of 16 states (int64 [scalar]); the networks read it one-hot"
        assert specs["bookkeeping"] == "episode_reward, step_count"


async def test_edits_in_two_tabs_both_hold():
    """Every form edits the one config: a learning rate typed after the env's seed keeps the seed."""
    app = TuiRlApp()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        app.screen.query_one("#field-env-seed").focus()
        await clear_and_type(pilot, "7")
        await pilot.press("escape", "left_square_bracket")  # Hyperparameters tab (cycling left)
        app.screen.query_one("#field-optim-lr").focus()
        await clear_and_type(pilot, "3e-4")
        await pilot.pause()
        assert (app.config.env.seed, app.config.optim.lr) == (7, pytest.approx(3e-4))
        await pilot.press("escape", "right_square_bracket")  # back to Environment
        app.screen.query_one("#field-env-seed").focus()
        await clear_and_type(pilot, "8")
        await pilot.pause()
        assert (app.config.env.seed, app.config.optim.lr) == (8, pytest.approx(3e-4))


async def test_an_unknown_env_id_is_explained_and_kwargs_reach_the_env():
    app, posted = TuiRlApp(), Posted()
    async with app.run_test(size=SMALL, message_hook=posted) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"NoSuchEnv-v0", "enter")
        await settle(pilot)
        assert app.config.env.id == "NoSuchEnv-v0"  # a free-text id is taken as typed
        specs = renderable_text(app.screen.query_one("#spec-view").content)
        assert "cannot make 'NoSuchEnv-v0'" in specs
        assert app.screen.query_one("#spec-view").has_class("-error")

        await pilot.press("slash", *"MountainCarContinuous", "enter")
        await until(pilot, lambda: app.screen.query_one(SpecView).kind == "continuous", what="the env's probe")
        probes = len(posted.of(SpecView.Probed))
        app.screen.query_one("#field-env-kwargs").focus()
        await pilot.press(*'{"goal_velocity": 0.1}')  # only the closing brace makes an edit to probe
        await until(pilot, lambda: len(posted.of(SpecView.Probed)) > probes, what="the probe with the kwargs")
        assert app.config.env.kwargs == {"goal_velocity": 0.1}
        specs = renderable_text(app.screen.query_one("#spec-view").content)
        assert "continuous [1] in [-1, 1]" in specs


async def test_step_counter_preview_counts_one_to_ten():
    app = TuiRlApp()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("right_square_bracket")  # Transforms tab
        await pilot.press("a")
        assert type(app.screen).__name__ == "AddTransformScreen"
        await pilot.press(*["down"] * list(TRANSFORMS).index("StepCounter"), "enter")
        await pilot.pause()
        await pilot.press("tab")  # from the stack straight into its first parameter's box
        assert app.focused.id == "field-transforms-StepCounter-max-steps"
        await pilot.press("shift+tab", "enter")  # enter on the stack goes there too
        assert app.focused.id == "field-transforms-StepCounter-max-steps"
        await pilot.press(*"ten")  # refused: the whole reason shows under the box, once
        shown = words_on_screen(app)
        assert "✗ expected" in shown and "got 'ten'" in shown
        assert "transforms.StepCounter.max_steps" not in shown
        await clear_and_type(pilot, "10")
        await pilot.press("escape")  # back on the stack, where a adds the next transform
        assert app.focused.id == "transform-list"
        await pilot.press("p")
        await settle(pilot)

        assert [t.model_dump() for t in app.config.transforms] == [
            {"name": "StepCounter", "params": {"max_steps": 10}}
        ]
        shown = screen_text(app)
        assert "1. StepCounter(max_steps=10)" in shown
        # At 80x24 all ten steps are on screen without focusing or scrolling the preview.
        steps_shown = [int(cells[1]) for cells in map(str.split, shown.splitlines())
                       if len(cells) > 3 and cells[0] == "│" and cells[1].isdigit()]
        assert steps_shown == list(range(1, 11))
        assert app.focused.id == "transform-list"
        rollout = app.preview_rollout
        assert rollout["next", "step_count"].flatten().tolist() == list(range(1, 11))

        preview = renderable_text(app.screen.query_one("#preview-output").content)
        lines = preview.splitlines()
        header = next(line.split() for line in lines if "step_count" in line.split())
        rows = [
            cells for cells in map(str.split, lines) if len(cells) == len(header) and cells[0].isdigit()
        ]
        column = header.index("step_count")
        assert [int(row[column]) for row in rows] == list(range(1, 11))
        assert "TensorDict(" in preview


async def test_a_failed_preview_shows_its_whole_reason():
    app = TuiRlApp()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("right_square_bracket", "a")
        await pilot.press(*["down"] * list(TRANSFORMS).index("ObservationNorm"), "enter", "p")
        await settle(pilot)
        assert app.screen.query_one("#preview-output").has_class("-error")
        assert "ObservationNorm needs loc and scale" in words_on_screen(app)
        assert "to measure them from random steps" in words_on_screen(app)  # wrapped, not cut


async def test_invalid_learning_rate_is_refused_beside_the_field():
    app = TuiRlApp()
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("left_square_bracket")  # Hyperparameters tab (cycling left)
        app.screen.query_one("#field-optim-lr").focus()
        await clear_and_type(pilot, "-1")
        await pilot.pause()

        row = app.screen.query_one("#field-optim-lr").parent
        assert row.has_class("-invalid")
        assert "✗ Input should be greater than 0" in screen_text(app)
        assert app.config.optim.lr == load_preset("cartpole-dqn").optim.lr
        assert app.screen.invalid_fields == ["optim.lr"]

        await pilot.press("escape", "s")  # starting is refused while a field is invalid, naming it
        await until(pilot, lambda: "Fix the invalid fields first: optim.lr" in toasts(app), what="the refusal")
        assert app.current_mode == "setup"
        await pilot.press("S")  # and so is a seed group
        await until(pilot, lambda: toasts(app).count("Fix the invalid fields first") == 2, what="the refusal")
        assert app.current_mode == "setup" and not app.screen.is_modal

        app.screen.query_one("#field-optim-lr").focus()
        await clear_and_type(pilot, "3e-4")
        await pilot.pause()
        assert app.config.optim.lr == pytest.approx(3e-4)
        assert not row.has_class("-invalid")


async def test_a_saved_preset_says_what_it_trains_and_drops_the_target_of_another_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = TuiRlApp()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"Pendulum-v1", "enter")
        await settle(pilot)
        algorithm = app.config.algorithm.name  # DQN cannot act in Pendulum: another was chosen
        assert app.config.eval.target_return == 475  # CartPole's, from the preset
        await pilot.press("escape", "ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, SavePresetScreen), what="the save dialog")
        about = str(app.screen.query_one("#save-preset-about").render())
        assert about.startswith(f"{algorithm.upper()} on Pendulum-v1 (MLP 64x64); edited from preset cartpole-dqn")
        assert "eval.target_return 475 was CartPole-v1's: left out" in about
        assert app.screen.query_one("#save-preset-path").value == f"pendulum-v1-{algorithm}.toml"
        await pilot.press("enter")
        target = tmp_path / f"pendulum-v1-{algorithm}.toml"
        await until(pilot, target.exists, what="the preset file")
        saved = load_file(target)
        assert "CartPole" not in saved.description and saved.eval.target_return is None
        assert saved.model_dump(exclude={"description", "eval"}) == app.config.model_dump(exclude={"description", "eval"})


async def test_help_lists_the_keys_of_the_app_and_the_screen():
    app = TuiRlApp()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one("#help-keys")
        rows = {tuple(table.get_row_at(i)) for i in range(table.row_count)}
        assert ("s", "Start", "App") in rows
        assert ("^s", "Save", "Setup") in rows
        assert ("a", "Add transform", "Transform stack") in rows
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_reaches_every_described_binding_of_every_mode():
    app = TuiRlApp()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        provider = BindingCommands(app.screen)
        titles = {command.title for command in provider.commands()}
        assert {"Start", "Help", "Quit", "Setup: Preview", "Setup: Save"} <= titles
        for mode in app.MODES:
            screen_class = type(modes_module.screen_factory(mode)())
            for binding in Binding.make_bindings(screen_class.__dict__.get("BINDINGS", [])):
                if binding.description:
                    assert f"{mode.capitalize()}: {binding.description}" in titles

        await pilot.press("ctrl+p")
        await pilot.press(*"Preview", "enter")
        await settle(pilot)
        assert app.preview_rollout is not None  # the palette ran the setup screen's preview


async def test_a_broken_screen_module_shows_why_instead_of_crashing(monkeypatch):
    monkeypatch.setitem(modes_module.MODE_SCREENS, "inspect", ("tui_rl.tui.screens.missing", "Nope"))
    app = TuiRlApp()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("4")
        await pilot.pause()
        assert isinstance(app.screen, UnavailableScreen)
        assert "The inspect screen is not available." in words_on_screen(app)
        reason = str(app.screen.query_one("#unavailable").content)
        assert "No module named 'tui_rl.tui.screens.missing'" in reason
        await pilot.press("1")
        assert app.current_mode == "setup"


def test_bad_preset_exits_2_with_a_message_and_no_traceback():
    result = subprocess.run(
        [sys.executable, "-c", "from tui_rl.tui.app import run_app; run_app('no-such-preset')"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown preset 'no-such-preset'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "module",
    ["tui_rl.tui.app", "tui_rl.tui.commands", "tui_rl.tui.screens.setup.screen", "tui_rl.tui.screens.help"],
)
def test_app_modules_and_the_app_load_no_torch(module):
    code = (
        f"import sys, {module}; from tui_rl.tui.app import TuiRlApp; TuiRlApp(); "
        "print('torch' in sys.modules, 'torchrl' in sys.modules, 'tensordict' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.split() == ["False", "False", "False"]


async def test_switching_dqn_to_ppo_and_back_by_keys_keeps_the_presets_tuned_values():
    app, posted = TuiRlApp(), Posted()
    preset = load_preset("cartpole-dqn")  # gamma 0.98, 32 updates per batch, hard targets, ...
    async with app.run_test(size=SMALL, message_hook=posted) as pilot:
        await settle(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")  # the Policy tab
        await until(pilot, lambda: getattr(app.focused, "id", None) == "algorithm-set")
        await pilot.press("down", "down", "enter")  # DDPG, TD3 and SAC cannot act in CartPole: SAC-D, then PPO
        await until(pilot, lambda: app.config.algorithm.name == "ppo", what="the switch to PPO")
        assert app.config.algorithm.gamma == 0.98  # carried over, not PPO's default 0.99
        assert "kept from DQN: gamma 0.98" in picker_words(app)

        await pilot.press("up", "up", "enter")
        await until(pilot, lambda: app.config.algorithm.name == "dqn", what="the switch back")
        assert app.config == preset
        note = str(app.screen.query_one("#algorithm-changes").content)
        assert "Algorithm PPO → DQN: DQN's values are back as last set" in note
        assert "gamma 0.99" not in note  # PPO kept DQN's gamma: nothing to report about it
        assert "DQN's values are back as last set" in picker_words(app)
        assert [message.name for message in posted.of(AlgorithmPicker.Chosen)] == ["ppo", "dqn"]

        await pilot.press("right_square_bracket")  # the hyperparameters show DQN's values again
        await pilot.pause()
        assert app.screen.query_one("#field-algorithm-updates-per-batch").value == "32"
        assert app.screen.query_one("#field-algorithm-target-update").value == "hard"


async def test_env_kwargs_asks_for_a_json_object_and_refuses_anything_else_by_name():
    app, posted = TuiRlApp(), Posted()
    async with app.run_test(size=SMALL, message_hook=posted) as pilot:
        await settle(pilot)
        assert 'JSON {"key": value}' in screen_text(app)  # the empty box says what it wants
        app.screen.query_one("#field-env-kwargs").focus()
        await pilot.press(*"render_mode=rgb_array")
        await pilot.pause()
        assert app.screen.invalid_fields == ["env.kwargs"]
        note = app.screen.query_one("#field-env-kwargs").parent.query_one(".field-note")
        assert str(note.content).startswith('✗ expected a JSON object such as {"key": value}')
        await until(pilot, lambda: "✗ expected a JSON object such as" in screen_text(app))
        refused = posted.of(FieldForm.Invalid)[-1]
        assert refused.path == "env.kwargs"
        assert refused.message.startswith('expected a JSON object such as {"key": value}')

        await clear_and_type(pilot, '{"x": NaN}')
        await pilot.pause()
        assert posted.of(FieldForm.Invalid)[-1].message == "NaN is not allowed; use a finite number"
        assert app.config.env.kwargs == {}

        await clear_and_type(pilot, '{"render_mode": "rgb_array"}')
        await pilot.pause()
        assert app.screen.invalid_fields == []
        edited = posted.of(HparamForm.Edited)[-1]
        assert edited.path == "env.kwargs"
        assert edited.config.env.kwargs == {"render_mode": "rgb_array"} == app.config.env.kwargs


async def test_help_scrolls_to_its_last_key_at_80x24():
    app = TuiRlApp()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        table = app.screen.query_one("#help-keys")
        last = " ".join(table.get_row_at(table.row_count - 1))
        assert last not in words_on_screen(app)  # more keys than rows at 80x24
        await pilot.press("pagedown", "pagedown")
        await until(pilot, lambda: last in words_on_screen(app), what="the last key, scrolled to")


async def test_text_from_data_is_shown_as_typed_not_read_as_markup(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tui-rl[tensorboard]").write_text("a file where the preset wants a folder")
    app = TuiRlApp()
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"x[bold]y")
        await pilot.pause()
        await until(pilot, lambda: "No registered id matches" in screen_text(app))
        assert "'x[bold]y'" in screen_text(app)  # the end of that line, brackets and all

        await pilot.press("escape", "ctrl+s")
        await pilot.pause()
        await clear_and_type(pilot, "tui-rl[tensorboard]/p.toml")
        await pilot.press("enter")
        await until(pilot, lambda: "tui-rl[tensorboard]/p.toml:" in words_on_screen(app),
                    what="the save error, brackets and all")


def test_a_field_shows_its_own_errors_and_names_the_fields_of_the_others():
    error = ConfigError(
        "setup: invalid configuration",
        (FieldError("algorithm.eps_start", "must not be below eps_end"), FieldError("optim.lr", "too big")),
    )
    assert message_for("optim.lr", error) == "too big"
    assert message_for("algorithm.eps_end", error) == (
        "algorithm.eps_start: must not be below eps_end; optim.lr: too big"
    )


async def test_the_env_backend_is_chosen_in_the_form_and_one_that_cannot_serve_is_explained():
    app = TuiRlApp()
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        specs = lambda: renderable_text(app.screen.query_one("#spec-view").content)  # noqa: E731
        await until(pilot, lambda: "torch (batched tensors)" in specs(), what="CartPole on the torch backend")
        await choose(pilot, "env.backend", "gymnasium")
        await until(pilot, lambda: "backend gymnasium" in " ".join(specs().split()), what="the Gymnasium env")
        assert app.config.env.backend == "gymnasium"

        await pilot.press("slash", *"LunarLander-v3", "enter")
        await settle(pilot)
        await choose(pilot, "env.backend", "torch")
        await until(pilot, lambda: app.screen.query_one("#spec-view").has_class("-error"), what="the refusal")
        assert "env.backend" in specs() and "CartPole-v1" in specs()  # the field, and the envs that have one
