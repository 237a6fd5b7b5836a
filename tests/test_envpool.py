"""The envpool backend: EnvPool's C++ threads step Atari (its standard preprocessing inside),
classic control and MuJoCo, with the Gymnasium path's dynamics, specs and bookkeeping."""

from __future__ import annotations

import pytest
import torch

from conftest import needs, of_type, train_run
from tui_rl.config import apply_overrides, validate
from tui_rl.engine.envs.envpool_env import EnvPoolEnv
from tui_rl.engine.envs.env_error import EnvError
from tui_rl.engine.envs.families import FAMILIES
from tui_rl.engine.envs.making import describe_specs, make_env
from tui_rl.engine.protocol import StatusChanged
from tui_rl.engine.runs.record import create_run

RAW_FRAMES = [
    {"name": "RenameTransform", "params": {"in_keys": ["pixels"], "out_keys": ["observation"]}},
    {"name": "NoopResetEnv", "params": {"noops": 1, "random": False}},  # EnvPool does at least one
    {"name": "ToTensorImage", "params": {"from_int": False, "dtype": "uint8"}},
]


def atari(backend: str, env_id: str = "ALE/Pong-v5", transforms=None, kwargs=None, **env):
    family = FAMILIES["atari"]
    return validate({
        "env": {"id": env_id, "kwargs": family.kwargs if kwargs is None else kwargs, "backend": backend, **env},
        "transforms": list(family.transforms if transforms is None else transforms),
        "network": {"encoder": "convnet"}, "algorithm": {"name": "dqn"},
    })


def played(env, actions: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each step's frame, reward, done and end of life under ``actions``, from a reset."""
    td = env.reset()
    steps = []
    for action in actions:
        td["action"] = action
        td = env.step(td)["next"]
        steps.append(td.select("observation", "reward", "done", "end-of-life", strict=False).clone())
    env.close()
    return torch.stack(steps).to_dict()


def test_auto_takes_envpool_for_atari_and_keeps_torch_for_classic_control():
    needs("envpool", "envpool")
    env = make_env(atari("auto", num_envs=2))
    assert isinstance(env.base_env, EnvPoolEnv) and env.batch_size == (2,)
    assert describe_specs(env)["backend"] == "envpool (C++ threads)"
    # the preprocessing is EnvPool's; the rest of the stack stays TorchRL's, the bookkeeping first
    assert [type(t).__name__ for t in env.transform] == ["CopiesEndOfLife", "RewardSum", "StepCounter",
                                                         "RewardClipping"]
    env.close()
    cartpole = make_env(validate({"env": {"id": "CartPole-v1"}}))
    assert describe_specs(cartpole)["backend"] == "torch (batched tensors)"


def test_envpool_gives_the_gymnasium_paths_specs_for_the_standard_atari_stack():
    needs("envpool", "envpool")
    needs("ale_py", "atari")
    for num_envs in (1, 3):
        gym_env, pool_env = (make_env(atari(b, num_envs=num_envs)) for b in ("gymnasium", "envpool"))
        assert pool_env.batch_size == gym_env.batch_size
        for spec in ("full_observation_spec", "full_action_spec", "full_reward_spec", "full_done_spec"):
            ours, theirs = getattr(pool_env, spec), getattr(gym_env, spec)
            assert sorted(ours.keys(True, True)) == sorted(theirs.keys(True, True)), spec
            for key in theirs.keys(True, True):
                assert (ours[key].shape, ours[key].dtype) == (theirs[key].shape, theirs[key].dtype), key
        assert pool_env.observation_spec["observation"].shape[-3:] == (4, 84, 84)
        gym_env.close()
        pool_env.close()


def test_without_preprocessing_envpool_plays_the_same_game_frame_for_frame():
    # Space Invaders takes a joystick: Pong's and Breakout's paddles keep their position across
    # the Gymnasium env's resets, so the first frames there depend on how often it was reset
    needs("envpool", "envpool")
    needs("ale_py", "atari")
    actions = torch.randint(6, (400,), generator=torch.Generator().manual_seed(0))
    kwargs = {"frameskip": 1, "repeat_action_probability": 0.0}
    gym_steps, pool_steps = (
        played(make_env(atari(b, "ALE/SpaceInvaders-v5", RAW_FRAMES, kwargs)), actions) for b in ("gymnasium", "envpool")
    )
    assert gym_steps["observation"].shape == (400, 3, 210, 160)
    assert torch.equal(pool_steps["observation"], gym_steps["observation"])
    assert torch.equal(pool_steps["reward"], gym_steps["reward"]) and gym_steps["reward"].sum() > 0
    assert torch.equal(pool_steps["done"], gym_steps["done"])


def test_with_the_standard_stack_envpool_scores_the_same_and_its_frames_differ_by_max_pool_and_resizing():
    needs("envpool", "envpool")
    needs("ale_py", "atari")
    stack = [dict(t) for t in FAMILIES["atari"].transforms]
    stack[1] = RAW_FRAMES[1]
    kwargs = {"frameskip": 1, "repeat_action_probability": 0.0}
    actions = torch.randint(6, (150,), generator=torch.Generator().manual_seed(0))
    gym_steps, pool_steps = (
        played(make_env(atari(b, "ALE/SpaceInvaders-v5", stack, kwargs)), actions) for b in ("gymnasium", "envpool")
    )
    assert torch.equal(pool_steps["reward"], gym_steps["reward"]) and gym_steps["reward"].sum() > 0
    assert torch.equal(pool_steps["end-of-life"], gym_steps["end-of-life"])
    # EnvPool takes the max of the last two frames of a skip and resizes by area; TorchRL keeps
    # the last frame and resizes bilinearly: the same picture, a few grey levels apart
    gap = (pool_steps["observation"].float() - gym_steps["observation"].float()).abs().mean()
    assert 0 < gap < 8, gap


def test_finished_copies_are_reset_at_once_so_episodes_never_join():
    needs("envpool", "envpool")
    env = make_env(atari("envpool", num_envs=2, max_episode_steps=40))
    rollout = env.rollout(25, break_when_any_done=False)
    counts = rollout["next", "step_count"].squeeze(-1)
    truncated = rollout["next", "truncated"].squeeze(-1)
    assert truncated.any()
    # a copy cut at its 10th step (40 frames, 4 a step) starts again at step 1 on the next one
    assert counts.max() == 10 and (counts[truncated] == 10).all()
    after = torch.roll(truncated, 1, dims=1)
    after[:, 0] = False
    assert (counts[after] == 1).all()
    env.close()


def test_envpool_for_an_id_it_does_not_make_is_refused_naming_the_backend():
    needs("envpool", "envpool")
    with pytest.raises(EnvError) as error:
        make_env(validate({"env": {"id": "FrozenLake-v1", "backend": "envpool"}}))
    assert error.value.errors[0].path == "env.backend" and "EnvPool does not make FrozenLake-v1" in str(error.value)
    with pytest.raises(EnvError) as error:
        make_env(atari("envpool", kwargs={"frameskip": 4}))
    assert error.value.errors[0].path == "env.kwargs.frameskip"


def test_envpool_steps_classic_control_with_gymnasiums_specs():
    needs("envpool", "envpool")
    pool_env = make_env(validate({"env": {"id": "CartPole-v1", "backend": "envpool", "num_envs": 4}}))
    gym_env = make_env(validate({"env": {"id": "CartPole-v1", "backend": "gymnasium", "num_envs": 4}}))
    assert pool_env.observation_spec["observation"].shape == gym_env.observation_spec["observation"].shape
    assert pool_env.action_spec.space.n == gym_env.action_spec.space.n
    rollout = pool_env.rollout(600, break_when_any_done=False)
    lengths = rollout["next", "step_count"][rollout["next", "done"]]
    # random play keeps CartPole up about 22 steps on average (Gymnasium's dynamics)
    assert 12 < lengths.float().mean() < 40


def test_a_short_dqn_run_on_breakout_trains_on_envpool(tmp_path):
    needs("envpool", "envpool")
    config = apply_overrides(atari("envpool", "ALE/Breakout-v5", num_envs=2), [
        "collector.frames_per_batch=64", "collector.total_frames=256", "collector.init_random_frames=64",
        "replay_buffer.size=1024", "eval.episodes=1", "eval.every_frames=256", "env.max_episode_steps=400",
    ])
    run_dir = create_run(config, runs_dir=tmp_path)
    trainer, events = train_run(config, run_dir)
    assert trainer.counters.frames == 256 and of_type(events, StatusChanged)[-1].state == "finished", [
        getattr(e, "message", e) for e in events if type(e).__name__ in ("Alert", "Log", "StatusChanged")][-3:]


async def test_the_transforms_tab_shows_what_envpool_does_inside_and_marks_those_transforms():
    needs("envpool", "envpool")
    from textual.widgets import OptionList

    from conftest import choose, settle, until, words_on_screen
    from tui_rl.tui.app import TuiRlApp

    app = TuiRlApp(atari("envpool"), preset_name="test")
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot)
        await pilot.press("right_square_bracket")  # the Transforms tab
        await settle(pilot)
        inside = app.screen.query_one("#envpool-inside")
        shown = words_on_screen(app)
        assert inside.display and "Inside EnvPool (read-only)" in shown
        for row in ("1-30 no-ops", "held 4 frames, max of last 2", "GrayScale", "84 x 84", "newest 4 frames stacked"):
            assert row in shown, row
        stack = app.screen.query_one("#transform-list", OptionList)
        marked = [str(stack.get_option_at_index(i).prompt).startswith(f"{i + 1}*") for i in range(stack.option_count)]
        assert "Stack (* inside EnvPool)" in shown
        # EndOfLifeTransform and RewardClipping stay TorchRL's, after EnvPool
        assert marked == [True, True, True, False, False, True, True, True, True]

        await pilot.press("left_square_bracket")  # back to the Env tab: the Gymnasium path does it all itself
        await choose(pilot, "env.backend", "gymnasium")
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: not inside.display, what="the EnvPool rows hidden")
        assert "Stack (* inside EnvPool)" not in words_on_screen(app)
