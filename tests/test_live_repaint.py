"""What the Train screen repaints while a fast run streams events: a run on tiny batches (MinAtar's
4-frame batches send about a hundred metrics a second) must not cost the app more than CartPole's."""

from __future__ import annotations

import gc
import time

from conftest import screen_text, until

from tui_rl.config import RunConfig
from tui_rl.engine.protocol import Metrics, StatusChanged
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.widgets.charts import frames_label
from tui_rl.tui.widgets.status_line import MAX_REPAINT_HZ

SMALL = (80, 24)
BRAILLE = range(0x2800, 0x2900)


async def train_screen(app, pilot):
    await app.switch_mode("train")
    await pilot.pause()
    return app.screen


async def test_a_run_on_tiny_batches_repaints_its_status_line_a_few_times_a_second(monkeypatch):
    app = TuiRlApp(RunConfig())
    async with app.run_test(size=SMALL) as pilot:
        screen = await train_screen(app, pilot)
        line = screen.status
        repaints = []
        update = line.update
        monkeypatch.setattr(line, "update", lambda *args, **kwargs: (repaints.append(time.monotonic()), update(*args, **kwargs))[1])
        screen.view.apply(StatusChanged("running", total_frames=10**7, seq=1, time=time.time()))
        line.update_progress(state="running")  # as the screen does with the state an event says

        await app.workers.wait_for_complete()  # the setup's env probe: not part of the stream
        # A metric in each of 200 turns of the UI: without a cap, each would repaint.
        frames, started = 0, time.monotonic()
        for turn in range(200):
            frames += 4
            screen.view.apply(Metrics({"fps": 1000.0 + turn}, seq=turn + 2, frames=frames))
            await pilot.pause()
        elapsed = time.monotonic() - started
        repaints = [at for at in repaints if at >= started]

        # The last figures still reach the screen, after the cap's short wait.
        await until(pilot, lambda: f"{frames_label(frames)}/" in screen_text(app), what="the last frame count")
        allowed = elapsed * MAX_REPAINT_HZ + 1  # + the first one
        assert len(repaints) <= allowed, f"{len(repaints)} repaints in {elapsed:.2f} s"


def braille_rows(chart: str) -> list[int]:
    return [row for row, text in enumerate(chart.splitlines()) if any(ord(c) in BRAILLE for c in text)]


async def test_per_episode_samples_are_dots_and_their_mean_is_a_line():
    app = TuiRlApp(RunConfig())
    async with app.run_test(size=SMALL) as pilot:
        screen = await train_screen(app, pilot)
        # Episodes that alternate between a short and a long one: a line through them would
        # zigzag over every row of the chart.
        for episode in range(1, 41):
            length = 10.0 if episode % 2 else 500.0
            screen.view.apply(Metrics({"episode_length": length, "episode_return": length},
                                      seq=episode, frames=episode * 1000))
        charts = screen.charts
        await pilot.press("]")  # the Length chart
        await until(pilot, lambda: "Episode length" in str(charts.viewer.render()), what="the length chart")
        length_rows = braille_rows(str(charts.viewer.render()))
        assert len(length_rows) == 2, f"samples drawn on rows {length_rows}, not as dots at the two lengths"

        await pilot.press("[")  # the Return chart: the same samples, and their mean of 20 as a line
        await until(pilot, lambda: "Episode return" in str(charts.viewer.render()), what="the return chart")
        return_rows = braille_rows(str(charts.viewer.render()))
        assert len(return_rows) > 2, "the running mean is not drawn between the samples"


async def test_opening_a_run_leaves_later_garbage_collections_little_to_walk(demo_runs):
    # A full collection over the app's objects held the screen 50-60 ms every few seconds of a
    # fast run; what is alive once a run is open is frozen out of later ones.
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs,
                   attach_dir=demo_runs / "cartpole-fast")
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: app.screen.state == "finished", what="the run to open")
        await pilot.pause()
        tracked, frozen = len(gc.get_objects()), gc.get_freeze_count()
        assert tracked < frozen / 10, f"{tracked:,} objects still tracked beside {frozen:,} frozen"
