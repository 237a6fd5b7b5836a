"""A user trains groups of agents: picking a multi-agent env shows its groups (name, agents, one
agent's observation and action) in the specs and the Policy tab, which says whether the agents of a
group share their networks; the algorithm switches to one that trains groups. A competitive env's
return chart draws one line per group (predators and prey)."""

from __future__ import annotations

import pytest
from conftest import Posted, needs, renderable_text, settle, train_run, until, words_on_screen
from helpers import state_of

from tui_rl.config import RunConfig, apply_overrides
from tui_rl.engine.runs.record import create_run
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.widgets.frame_view import FrameView
from tui_rl.tui.widgets.step_table import StepTable

WIDE = (160, 50)
#: MAPPO on simple_tag (3 predators, 1 prey; 25-step episodes), small enough to train in seconds
TINY_TAG = [
    "env.id=mpe/simple_tag", "algorithm.name=mappo", "algorithm.minibatch_size=100", "algorithm.epochs=1",
    "collector.frames_per_batch=100", "collector.total_frames=200", "network.hidden_sizes=[16]",
    "eval.every_frames=100000", "checkpoint.every_frames=200",
]


@pytest.fixture(scope="module")
def tag_run(tmp_path_factory):
    """A finished tiny MAPPO run on simple_tag."""
    needs("mpe2", "pettingzoo")
    config = apply_overrides(RunConfig(), TINY_TAG)
    run_dir = create_run(config, name="tag", runs_dir=tmp_path_factory.mktemp("runs"))
    train_run(config, run_dir)
    return run_dir


def spec_text(app) -> str:
    return " ".join(renderable_text(app.screen.query_one("#spec-view").content).split())


def policy_text(app) -> str:
    return str(app.screen.query_one("#network-shapes").render())


async def test_a_competitive_env_shows_its_groups_in_the_specs_and_the_policy_tab():
    needs("mpe2", "pettingzoo")
    app = TuiRlApp()
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"mpe/simple_tag", "enter")
        await until(pilot, lambda: "groups" in spec_text(app), what="the groups in the specs")
        specs = spec_text(app)
        assert "adversary (3 agents), agent (1 agent)" in specs
        assert "group adversary 3 x observation float32 [16]; action discrete: 5 actions" in specs
        assert "group agent 1 x observation float32 [14]; action discrete: 5 actions" in specs

        await pilot.press("escape", "right_square_bracket", "right_square_bracket")  # the Policy tab
        await until(pilot, lambda: app.config.algorithm.name == "mappo", what="the switch to MAPPO")
        await until(pilot, lambda: "Groups: 2" in policy_text(app), what="the groups in the Policy tab")
        shown = words_on_screen(app)
        assert "adversary: 3 agents, observation float32 [16], action discrete: 5 actions" in shown
        assert "agent: 1 agent, observation float32 [14], action discrete: 5 actions" in shown
        assert "Parameters: shared by the agents of a group" in shown
        assert "Critic: centralised (reads every agent of its group)" in shown
        assert "One policy per group" in shown
        note = app.screen.query_one("#algorithm-picker").fit_note
        assert note == "mpe/simple_tag has groups of agents with discrete actions: MAPPO, IPPO, QMIX, VDN train in it."
        assert app.screen.query_one("#algorithm-dqn").disabled

        await pilot.press("right_square_bracket")  # the Hyperparameters tab: one actor per agent
        app.screen.query_one("#field-algorithm-share-params").focus()
        await pilot.press("space")
        await until(pilot, lambda: not app.config.algorithm.share_params, what="share_params off")
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: "Parameters: one set per agent" in policy_text(app), what="the Policy tab to follow")


def status(screen) -> str:
    return str(screen.query_one("#inspector-status").render())


def shown_rows(screen) -> dict[str, str]:
    return {name: value for name, value, _style in screen.query_one(StepTable).rows()}


def chart_text(app) -> str:
    return str(app.screen.query_one("#charts").viewer.render())


async def test_a_competitive_run_charts_each_groups_return(tag_run):
    app = TuiRlApp(RunConfig(), runs_dir=tag_run.parent, attach_dir=tag_run)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: state_of(app) == "finished", what="the finished run")
        await settle(pilot)
        await until(pilot, lambda: "adversary" in chart_text(app), what="the predators' line")
        chart = chart_text(app)
        assert "Episode return" in chart
        assert "agent" in chart.replace("adversary", ""), "the prey's line is missing from the legend"
        assert "mean of 20" in chart
        charts = app.screen.query_one("#charts")
        assert sorted(charts.curves.matching((), ("episode_return",))) == [
            "episode_return/adversary", "episode_return/agent"]


async def test_the_user_drives_the_prey_by_hand_while_the_policy_drives_the_predators():
    needs("mpe2", "pettingzoo")
    app, posted = TuiRlApp(apply_overrides(RunConfig(), TINY_TAG), preset_name="tag"), Posted()
    async with app.run_test(size=(120, 40), message_hook=posted) as pilot:
        await pilot.press("4")
        await pilot.pause()
        screen = app.screen
        await pilot.press("l")  # the live env
        await until(pilot, lambda: screen.session is not None, what="the live env")
        await until(pilot, lambda: screen.query_one(FrameView).frame is not None, what="the particle world's frame")

        await pilot.press("g", "g", "g", "g")  # adversary 0, 1, 2, then the prey
        await until(pilot, lambda: "g agent (agent 0)" in status(screen), what="the prey to be driven")
        await pilot.press("3")
        await until(pilot, lambda: screen.length == 1, what="one step")
        step = screen.session.rollout[0]
        assert step["agent", "action"].tolist() == [3]  # the user's
        assert step["adversary", "action"].tolist() == step["policy", "adversary", "action"].tolist()
        assert "You drive agent 0; the policy drives the others." in posted.notices()

        rows = shown_rows(screen)  # each agent's observation, action and reward at the step
        assert rows["agent[0] action"] == "3"
        assert [rows[f"adversary[{i}] action"] for i in range(3)] == [str(a) for a in step["adversary", "action"].tolist()]
        assert len(rows["adversary[2] observation"].split()) == 10  # 8 of 16 values, "…", "(+8)"
        assert rows["agent[0] reward"] == f"{step['next', 'agent', 'reward'].item():+.3f}"

        await pilot.press("g")  # no one driven: the digits are refused, the policy steps all
        await until(pilot, lambda: "g agent (none" in status(screen), what="no agent driven")
        await pilot.press("3")
        await until(pilot, lambda: "choose the agent you drive first (g)" in " ".join(posted.notices()),
                    what="the refusal")
        await pilot.press("p")
        await until(pilot, lambda: screen.length == 2, what="the policy's step")


def test_an_evaluation_episode_of_a_competitive_run_has_each_groups_outputs_frames_and_return(tag_run):
    from tui_rl.engine.inspect.rollout_sources import evaluation_episode
    from tui_rl.engine.runs.folder import read_config

    rollout, description = evaluation_episode(read_config(tag_run), tag_run)
    assert rollout.batch_size[0] == 25  # simple_tag's episodes last 25 steps
    assert rollout["pixels"].shape[1:] == (140, 140, 3)  # the particle world, drawn at 700 px and shrunk
    assert rollout["policy", "adversary", "logits"].shape == (25, 3, 5)
    assert rollout["policy", "agent", "action"].shape == (25, 1)
    assert description.startswith("evaluation episode, returns adversary ")
    assert ", agent " in description
