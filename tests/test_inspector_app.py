"""The inspector in the app, driven by the keyboard: step through the setup's preview, drive a live
env by hand (its steps run in a worker, in the order of the keys), save its rollout and open it
again from the run folder; a crafted saved rollout opens without running its pickle."""

from __future__ import annotations

import threading

import pytest
import torch
from conftest import PATIENCE_S, Posted, crafted_rollout, footer, renderable_text, trained_run, until
from textual.widgets import OptionList

from tui_rl.config.algorithms import SACConfig
from tui_rl.config.models import EnvConfig, RunConfig
from tui_rl.engine.envs.making import preview_rollout
from tui_rl.engine.inspect.live_env import LiveEnvSession
from tui_rl.engine.inspect.rollouts import list_rollouts, save_rollout
from tui_rl.engine.runs.record import create_run
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.screens.inspector.screen import InspectorScreen
from tui_rl.tui.screens.inspector.dialogs import ActionPrompt, SourcePicker
from tui_rl.tui.widgets.frame_view import FrameView
from tui_rl.tui.widgets.step_table import StepTable
from tui_rl.tui.widgets.tensordict_tree import TensorDictTree

torch.set_num_threads(1)


def shown_rows(screen: InspectorScreen) -> dict[str, str]:
    return {name: value for name, value, _style in screen.query_one(StepTable).rows()}


def numbers(text: str) -> list[float]:
    return [float(word) for word in text.split()]


async def open_inspector(pilot) -> InspectorScreen:
    await pilot.press("4")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, InspectorScreen)
    return screen


async def open_live_env(pilot) -> InspectorScreen:
    screen = await open_inspector(pilot)
    await pilot.press("l")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert screen.session is not None, "no live env opened"
    return screen


def last_notice(posted: Posted) -> str:
    notices = posted.notices()
    return notices[-1] if notices else ""


async def open_saved(pilot, screen: InspectorScreen, path, posted: Posted) -> None:
    """Open the saved rollout at ``path`` as the source picker would."""
    screen.open_source(next(source for source in screen.sources() if source.path == path))
    await until(pilot, lambda: screen.kind == "saved" or "Saved:" in last_notice(posted), what="the rollout to open")
    await pilot.pause()


async def test_stepping_through_the_setup_preview_shows_each_steps_values():
    config = RunConfig(env=EnvConfig(seed=5))
    app = TuiRlApp(config, preset_name="test")
    app.preview_rollout = rollout = preview_rollout(config, max_steps=200)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_inspector(pilot)  # the preview opens by itself
        assert screen.rollout is rollout and screen.step == 0
        await pilot.press("right", "right", "right", "left")
        assert screen.step == 2
        rows = shown_rows(screen)
        assert numbers(rows["observation"]) == pytest.approx(rollout["observation"][2].tolist(), abs=1e-3)
        assert int(rows["action"]) == rollout["action"][2].item()
        assert float(rows["next.reward"]) == rollout["next", "reward"][2].item()
        assert int(rows["next.step_count"]) == rollout["next", "step_count"][2].item() == 3
        assert rows["next.done"] == "False"
        header = renderable_text(screen.query_one(StepTable).header())
        assert f"step 2/{len(rollout) - 1}" in header and "episode 1" in header

        await pilot.press("end")
        assert screen.step == len(rollout) - 1
        await pilot.press("home", "n")  # the next step that ends an episode
        done = rollout["next", "done"].squeeze(-1).nonzero().flatten().tolist()
        assert screen.step == done[0]
        assert shown_rows(screen)["next.done"] == "True"
        assert "■ ends" in renderable_text(screen.query_one(StepTable).header())


async def test_the_tree_shows_every_key_and_the_statistics_of_the_highlighted_one():
    config = RunConfig(env=EnvConfig(seed=5))
    app = TuiRlApp(config, preset_name="test")
    app.preview_rollout = rollout = preview_rollout(config, max_steps=200)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_inspector(pilot)
        await pilot.press("right", "v")  # small terminal: switch to the TensorDict view
        tree = screen.query_one(TensorDictTree)
        assert tree.display and tree.tree.has_focus
        labels = {key: renderable_text(node.label) for key, node in tree.nodes.items()}
        assert labels[()].strip() == f"TensorDict(batch_size=[{len(rollout)}], device=cpu)"
        assert labels[("next",)].startswith("next: TensorDict(")
        assert labels[("next", "reward")].strip() == f"reward: Tensor(shape=[{len(rollout)}, 1], dtype=float32)"
        # no row is cut at 80 columns: each label fits beside its guide lines (4 cells a level)
        width = tree.tree.scrollable_content_region.width
        for key, label in labels.items():
            assert 4 * len(key) + 2 + len(label.strip()) <= width, label
        while tree.highlighted != ("observation",):
            await pilot.press("down")
        details = renderable_text(screen.query_one("#td-leaf").content, width=120)
        observations = rollout["observation"]
        assert "observation at step 1" in details
        for line, expected in (("min", observations.amin(0)), ("max", observations.amax(0)), ("mean", observations.mean(0))):
            row = next(text for text in details.splitlines() if text.startswith(line))
            assert numbers(row.split("steps", 1)[1]) == pytest.approx(expected.tolist(), abs=1e-3)
        await pilot.press("right")  # stepping still works from the tree
        assert screen.step == 2 and "observation at step 2" in renderable_text(screen.query_one("#td-leaf").content)


async def test_driving_a_live_env_by_hand_grows_the_rollout_and_the_view_follows():
    app, posted = TuiRlApp(RunConfig(), preset_name="test"), Posted()
    async with app.run_test(size=(80, 24), message_hook=posted) as pilot:
        screen = await open_live_env(pilot)
        assert screen.query_one(FrameView).frame is not None  # the reset frame, before any step
        assert "the env is reset" in renderable_text(screen.query_one(StepTable).render())
        # the steps run in a worker, in the order of the keys, however fast they come
        await pilot.press("p", "0", "1", "1", "r")
        await until(pilot, lambda: screen.length == 5 and screen.step == 4, what="five steps")
        rollout = screen.session.rollout
        assert rollout["action"][1:4].tolist() == [0, 1, 1]
        assert rollout["action"][0].item() == rollout["policy", "action_value"][0].argmax().item()
        assert numbers(shown_rows(screen)["policy.action_value"]) == pytest.approx(
            rollout["policy", "action_value"][4].tolist(), abs=1e-3
        )
        assert torch.equal(torch.as_tensor(screen.query_one(FrameView).frame), rollout["pixels"][4])

        await pilot.press("7")  # CartPole has two actions: refused, and no mode switch
        await until(pilot, lambda: "choose one of 0..1" in last_notice(posted), what="the refusal")
        assert isinstance(app.screen, InspectorScreen) and len(screen.rollout) == 5
        status = renderable_text(screen.query_one("#inspector-status").render(), width=78)
        assert "0-1 action · R reset · l close · ^p modes" in status.splitlines()[1]

        await pilot.press("left", "left")
        assert screen.step == 2
        await pilot.press("p")
        await until(pilot, lambda: screen.step == 5, what="the view at the new step")  # a new step brings the view to the end

        await pilot.press("R")
        await until(pilot, lambda: screen.session.episodes == 2, what="a new episode")
        await pilot.press("l")  # close the live env: its rollout stays, digits switch modes again
        assert screen.session is None and len(screen.rollout) == 6
        await pilot.press("1")
        assert app.current_mode == "setup"


async def test_at_80_columns_the_footer_keeps_start_help_and_quit_and_leaves_out_whole_keys():
    app = TuiRlApp(RunConfig(), preset_name="test")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_inspector(pilot)
        await until(pilot, lambda: "q Quit" in footer(app), what="the footer")
        keys = footer(app).split("▏")[0]
        for key in ("←/→ Step", "o Open", "l Live env", "s Start", "? Help", "q Quit"):
            assert key in keys
        assert "Next done" not in keys  # left out whole (? lists it), not cut at the edge

        await open_live_env(pilot)
        await until(pilot, lambda: "p Policy step" in footer(app), what="the live env's keys")
        keys = footer(app).split("▏")[0]
        for key in ("p Policy step", "r Random", "0-9 Action", "? Help", "q Quit"):
            assert key in keys


async def test_while_digits_take_actions_the_modes_are_reached_by_the_palette_as_the_key_line_says():
    app = TuiRlApp(RunConfig(), preset_name="test")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_live_env(pilot)
        assert "^p modes" in renderable_text(screen.query_one("#inspector-status").render(), width=78)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette", what="the palette")
        await pilot.press(*"runs")
        await until(pilot, lambda: app.screen.query_one("CommandList").option_count, what="the palette's hits")
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.current_mode == "runs", what="the Runs mode")
        assert screen.session is not None  # the live env stays open behind


async def test_a_continuous_action_is_typed_and_checked_against_the_bounds():
    config = RunConfig(env=EnvConfig(id="Pendulum-v1"), algorithm=SACConfig())
    app = TuiRlApp(config, preset_name="test")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_live_env(pilot)
        status = renderable_text(screen.query_one("#inspector-status").render(), width=78)  # 80 less padding
        assert "a action (1 value(s) in [-2, 2]) · R reset · l close" in status.splitlines()[1]
        await pilot.press("a")
        assert isinstance(app.screen, ActionPrompt)
        await pilot.press("5", "enter")
        assert isinstance(app.screen, ActionPrompt)  # refused: the reason shows, the prompt stays
        assert "out of bounds" in str(app.screen.query_one("#action-error").content)
        await pilot.press("backspace", "minus", "1", ".", "5", "enter")
        await until(pilot, lambda: screen.length == 1, what="the typed step")
        assert app.screen is screen
        assert screen.session.rollout["action"].tolist() == [[-1.5]]


async def test_a_live_rollout_saved_into_the_run_folder_opens_again(tmp_path):
    run_dir = create_run(RunConfig(), name="saved", runs_dir=tmp_path)
    app = TuiRlApp(RunConfig(), preset_name="test", runs_dir=tmp_path)
    app.current_run_dir = run_dir
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_live_env(pilot)
        await pilot.press("r", "r", "r")
        await until(pilot, lambda: screen.length == 3, what="three steps")
        await pilot.press("w")
        await until(pilot, lambda: list_rollouts(run_dir), what="the saved rollout")
        (saved,) = list_rollouts(run_dir)
        assert saved.name.startswith("live-")
        recorded = screen.session.rollout.clone()

        await pilot.press("o")
        assert isinstance(app.screen, SourcePicker)
        labels = [source.label for source in app.screen.sources]
        saved_index = labels.index(f"Saved: {saved.name}")
        options = app.screen.query_one(OptionList)
        for _ in range(len(labels)):  # down skips the sources that cannot be opened
            if options.highlighted == saved_index:
                break
            await pilot.press("down")
        await pilot.press("enter")
        await until(pilot, lambda: screen.kind == "saved", what="the saved rollout to open")
        assert screen.session is None  # opening another rollout closes the live env
        assert screen.description == f"saved rollout {saved.name}"
        assert (screen.rollout == recorded).all()


async def test_a_saved_rollout_of_another_session_steps_like_any_other(tmp_path):
    run_dir = create_run(RunConfig(), name="other", runs_dir=tmp_path)
    live = LiveEnvSession(RunConfig(env=EnvConfig(seed=11)))
    for _ in range(6):
        live.step_random()
    path, _ = save_rollout(run_dir, live.rollout, "by hand")
    live.close()
    app = TuiRlApp(RunConfig(), preset_name="test", runs_dir=tmp_path)
    app.current_run_dir = run_dir
    posted = Posted()
    async with app.run_test(size=(160, 48), message_hook=posted) as pilot:
        screen = await open_inspector(pilot)
        await open_saved(pilot, screen, path, posted)
        assert len(screen.rollout) == 6
        await pilot.press("end")
        assert int(shown_rows(screen)["action"]) == screen.rollout["action"][5].item()
        assert screen.query_one(TensorDictTree).display  # large terminal: everything at once
        assert screen.query_one(FrameView).frame is not None


async def test_a_crafted_saved_rollout_opens_without_running_its_pickle(tmp_path):
    run_dir = create_run(RunConfig(), name="received", runs_dir=tmp_path)
    marker = tmp_path / "pwned"
    path = crafted_rollout(run_dir, marker)
    app = TuiRlApp(RunConfig(), preset_name="test", runs_dir=tmp_path)
    app.current_run_dir = run_dir
    posted = Posted()
    async with app.run_test(size=(80, 24), message_hook=posted) as pilot:
        screen = await open_inspector(pilot)
        await open_saved(pilot, screen, path, posted)
        assert not marker.exists()
        assert screen.kind == "saved" and len(screen.rollout) == 4
        status = renderable_text(screen.query_one("#inspector-status").render(), width=78)
        assert "skipped, not tensors: info" in " ".join(status.split())


async def test_a_replay_sample_is_shown_as_transitions_not_an_episode():
    config = RunConfig(env=EnvConfig(seed=5))
    app = TuiRlApp(config, preset_name="test")
    sample = preview_rollout(config, max_steps=40)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_inspector(pilot)
        screen.opened(sample, "replay buffer sample of transitions", "replay")
        await pilot.pause()
        header = renderable_text(screen.query_one(StepTable).header())
        assert "transition of a sample, not in episode order" in header and "episode 1" not in header


async def test_a_key_held_while_a_step_runs_queues_a_bounded_number_of_steps():
    from tui_rl.tui.screens.inspector.live import MAX_QUEUED

    app = TuiRlApp(RunConfig(), preset_name="test")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_live_env(pilot)
        driver = screen.driver
        with driver.lock:  # a step that takes long: the worker waits for the env
            await pilot.press(*["r"] * (MAX_QUEUED + 5))
            assert driver.busy and len(driver.queue) == MAX_QUEUED  # the rest were ignored
            assert screen.length == 0  # the UI kept answering while the env was busy
        await until(pilot, lambda: screen.length == MAX_QUEUED + 1 and not driver.busy, what="the queued steps")


async def test_trainer_sources_say_why_they_are_unavailable_without_a_run():
    app = TuiRlApp(RunConfig(), preset_name="test")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_inspector(pilot)
        await pilot.press("o")
        picker = app.screen
        assert isinstance(picker, SourcePicker)
        unavailable = {source.kind: source.unavailable for source in picker.sources}
        assert unavailable["latest"] == unavailable["replay"] == "no run yet: s starts one"
        assert unavailable["eval"] == ""  # an untrained policy can still play an episode
        assert "Setup" in unavailable["preview"]
        await pilot.press("escape")
        assert isinstance(app.screen, InspectorScreen)


async def test_recording_a_video_and_fresh_weights_for_a_live_env_from_the_app(tmp_path, monkeypatch):
    from tui_rl.engine.inspect import evaluate

    run_dir = trained_run(tmp_path)
    app = TuiRlApp(RunConfig(), preset_name="test", runs_dir=tmp_path)
    app.current_run_dir = run_dir
    posted = Posted()
    recording = threading.Event()  # the recording waits for it: a fast one cannot end before the second press
    real_evaluate_run = evaluate.evaluate_run
    monkeypatch.setattr(evaluate, "evaluate_run", lambda *args, **kwargs: (
        recording.wait(PATIENCE_S), real_evaluate_run(*args, **kwargs))[1])

    def recording_notes() -> list[str]:
        return [notice for notice in posted.notices() if notice.startswith("Recording")]

    async with app.run_test(size=(80, 24), message_hook=posted) as pilot:
        screen = await open_inspector(pilot)
        await pilot.press("V", "V")  # a second press while the first records is refused: one video
        await until(pilot, lambda: len(recording_notes()) == 2, what="the second press answered")
        recording.set()
        await until(pilot, lambda: "written to" in last_notice(posted), what="the video")
        said = recording_notes()
        assert said[0] == "Recording an episode of tiny's newest checkpoint…"
        assert said[1] == "Recording an episode of tiny's newest checkpoint… is under way: wait for it."
        (video,) = (run_dir / "metrics" / "videos").glob("eval-512*")
        assert video.suffix == ".mp4"  # the record key writes MP4 (tests/test_video.py decodes one)
        assert str(video) in last_notice(posted)

        # a live env takes the run's freshest weights when asked (u), between its steps
        await pilot.press("l")
        await until(pilot, lambda: screen.session is not None, what="the live env")
        await pilot.press("p", "u", "p")
        await until(pilot, lambda: "Policy: checkpoint at 512 frames" in last_notice(posted), what="the fresh weights")
        await until(pilot, lambda: screen.length == 2, what="both steps")
