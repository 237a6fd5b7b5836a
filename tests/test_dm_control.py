"""The DeepMind Control Suite as an env family: its benchmark tasks are listed, made from their
state vectors (joined into one float32 observation) or their camera's pixels, and train headless;
without dm_control the family is refused, naming its extra."""

from __future__ import annotations

import sys

import pytest
import torch

from conftest import needs
from tui_rl.cli import main
from tui_rl.config import ConfigError, save_file, validate
from tui_rl.engine.envs.families import DM_CONTROL_PIXEL_TRANSFORMS, FAMILIES, dm_control_suite
from tui_rl.engine.envs.frames import make_render_env
from tui_rl.engine.envs.gym_registry import registered_env_groups
from tui_rl.engine.envs.making import EnvError, describe_specs, make_env
from tui_rl.engine.run.preflight import check_buildable
from tui_rl.engine.runs.folder import read_summary

FAMILY = FAMILIES["dm_control"]


@pytest.fixture
def suite():
    needs("dm_control", FAMILY.extra)
    return dm_control_suite()


def task_config(env_id: str, kwargs=None, transforms=FAMILY.transforms, **sections):
    env = {"id": env_id, "kwargs": kwargs or {}, "max_episode_steps": 40}
    return validate({"env": env, "transforms": [dict(t) for t in transforms], **sections})


def test_the_env_list_offers_the_suites_benchmark_tasks_or_says_how_to_get_them(suite, monkeypatch):
    ids = {group.name: group for group in registered_env_groups()}["dm_control"].ids
    assert {"dm_control/cheetah-run", "dm_control/walker-walk", "dm_control/cartpole-swingup"} <= set(ids)
    assert len(ids) == len(suite.BENCHMARKING)
    monkeypatch.setitem(sys.modules, "dm_control", None)  # import raises ImportError from now on
    missing = {group.name: group for group in registered_env_groups()}["dm_control"]
    assert missing.ids == [] and "pip install 'tui-rl[dmcontrol]'" in missing.missing


def test_the_specs_show_the_state_vectors_joined_into_one_float32_observation(suite):
    env = make_env(task_config("dm_control/walker-walk"))
    try:
        specs = describe_specs(env)
        rollout = env.rollout(45, break_when_any_done=False)
    finally:
        env.close()
    assert specs["backend"] == "dm_control"
    assert specs["joined"] == "observation = height, orientations, velocity (concatenated)"
    assert "observation: float32 [24]" in specs["observation"]
    assert specs["action"] == "continuous [6] in [-1, 1]"
    assert rollout["next", "observation"].dtype == torch.float32
    assert rollout["next", "step_count"].squeeze(-1).tolist()[38:42] == [39, 40, 1, 2], "max_episode_steps holds"


def test_pixels_are_the_cameras_image_through_the_pixel_stack_and_refused_without_it(suite):
    pixels = {"from_pixels": True}
    env = make_env(task_config("dm_control/cartpole-swingup", pixels, DM_CONTROL_PIXEL_TRANSFORMS))
    try:
        specs = describe_specs(env)
        frames = env.rollout(3, break_when_any_done=False)["next", "observation"]
    finally:
        env.close()
    assert specs["observation"].startswith("observation: uint8 [9x84x84]")  # 3 RGB frames stacked
    assert frames.float().std() > 0, "a drawn scene, not a blank image"
    with pytest.raises(EnvError, match="pixel stack") as error:
        make_env(task_config("dm_control/cartpole-swingup", pixels))
    assert [e.path for e in error.value.errors] == ["transforms"]


def test_a_task_the_suite_lacks_is_refused_naming_its_tasks(suite):
    with pytest.raises(EnvError, match="swingup, swingup_sparse") as error:
        make_env(task_config("dm_control/cartpole-run"))
    assert [e.path for e in error.value.errors] == ["env.id"]


def test_without_dm_control_a_task_is_refused_before_the_run_naming_the_extra(suite, monkeypatch):
    monkeypatch.setitem(sys.modules, "dm_control", None)
    with pytest.raises(ConfigError) as error:
        check_buildable(task_config("dm_control/cheetah-run"))
    assert isinstance(error.value, EnvError) and [e.path for e in error.value.errors] == ["env.id"]
    assert "DeepMind Control envs need dm_control: pip install 'tui-rl[dmcontrol]'" in str(error.value)


@pytest.mark.parametrize("algorithm", ["sac", "ppo"])
def test_a_task_trains_headless_from_its_states(suite, algorithm, tmp_path, runs_dir, capsys):
    config = task_config(
        "dm_control/cheetah-run",
        algorithm={"name": algorithm},
        network={"hidden_sizes": [16]},
        collector={"frames_per_batch": 32, "total_frames": 64, "init_random_frames": 32},
        replay_buffer={"size": 1000, "batch_size": 16},
        eval={"every_frames": 64, "episodes": 1},
    )
    preset = tmp_path / "cheetah.toml"
    save_file(config, preset)
    code = main(["train", str(preset), "--name", "cheetah", "--runs-dir", str(runs_dir)])
    assert code == 0, capsys.readouterr().err
    assert read_summary(runs_dir / "cheetah").status == "finished"


def test_the_inspector_draws_a_tasks_frames(suite):
    env = make_render_env(task_config("dm_control/cheetah-run"))
    try:
        frames = env.rollout(2)["pixels"]
    finally:
        env.close()
    assert frames.shape == (2, 120, 160, 3) and frames.float().std() > 0  # 240 x 320, halved to fit


async def test_switching_pixels_on_in_the_env_tab_brings_the_pixel_stack_and_off_the_state_one(suite):
    from conftest import Posted, renderable_text, settle, until, words_on_screen

    from tui_rl.tui.app import TuiRlApp
    from tui_rl.tui.widgets.spec_view import SpecView

    def stack(app):
        return [{"name": t.name, "params": t.params} for t in app.config.transforms]

    app, posted = TuiRlApp(), Posted()
    async with app.run_test(size=(100, 30), message_hook=posted) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"cartpole-swingup")
        await until(pilot, lambda: "dm_control/cartpole-swingup" in words_on_screen(app), what="the task in the list")
        await pilot.press("enter")
        await settle(pilot)
        assert app.config.env.id == "dm_control/cartpole-swingup" and stack(app) == list(FAMILY.transforms)
        app.screen.query_one("#field-env-kwargs").focus()
        await pilot.press("ctrl+a", "ctrl+k", *'{"from_pixels": true}')
        await until(pilot, lambda: stack(app) == list(DM_CONTROL_PIXEL_TRANSFORMS), what="the pixel stack")
        assert app.config.env.kwargs == {"from_pixels": True}
        assert any("the Transforms tab now holds it: RenameTransform, FrameSkipTransform" in notice
                   for notice in posted.notices()), posted.notices()
        spec_view = app.screen.query_one(SpecView)
        await until(pilot, lambda: "uint8 [9x84x84]" in renderable_text(spec_view.content), what="the pixel specs")
        assert not spec_view.has_class("-error")
        await pilot.press("ctrl+a", "ctrl+k", *"{}")  # pixels off again: the states' stack
        await until(pilot, lambda: stack(app) == list(FAMILY.transforms), what="the state stack back")
        await pilot.press("escape", "right_square_bracket")  # the Transforms tab shows it
        await pilot.pause()
        shown = words_on_screen(app)
        assert "DoubleToFloat" in shown and "CatFrames" not in shown


def test_a_stack_the_user_changed_is_kept_when_pixels_switch_and_another_task_keeps_the_pixel_stack():
    from tui_rl.config import edit
    from tui_rl.engine.envs.families import env_switch_edits, kwargs_switch_edits

    states = task_config("dm_control/cheetah-run")
    pixels = edit(states, {"env.kwargs": {"from_pixels": True}})
    assert kwargs_switch_edits(states, pixels) == {"transforms": [dict(t) for t in DM_CONTROL_PIXEL_TRANSFORMS]}
    own = edit(states, {"transforms": [{"name": "DoubleToFloat", "params": {}}, {"name": "StepCounter", "params": {}}]})
    assert kwargs_switch_edits(own, edit(own, {"env.kwargs": {"from_pixels": True}})) == {}, "the user's stack stays"
    on_pixels = edit(pixels, {"transforms": [dict(t) for t in DM_CONTROL_PIXEL_TRANSFORMS]})
    moved = env_switch_edits(on_pixels, "dm_control/walker-walk")
    assert "env.kwargs" not in moved and moved["transforms"] == [dict(t) for t in DM_CONTROL_PIXEL_TRANSFORMS]
    assert env_switch_edits(on_pixels, "CartPole-v1") == {"env.id": "CartPole-v1", "transforms": []}, "the family's stack goes"
