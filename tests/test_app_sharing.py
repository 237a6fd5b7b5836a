"""From the Runs screen: `c` copies the line that sets the run up again (OSC 52), `e` exports its
policy through a small dialog; runs from other tools are refused with the reason."""

from __future__ import annotations

from pathlib import Path

from conftest import Posted, toasts, trained_run, until

from tui_rl.config import RunConfig
from tui_rl.engine.runs.reproduce import reproduce_text
from tui_rl.tui.app import TuiRlApp
from tui_rl.tui.screens.runs.run_list import RunList


async def open_runs(pilot, app, rows: int) -> RunList:
    await pilot.press("3")
    table = app.screen.query_one(RunList)
    await until(pilot, lambda: table.row_count == rows, what="the run list")
    return table


async def open_export_dialog(pilot, app, target: Path) -> None:
    """``e`` on the one run listed, and ``target`` typed as the file."""
    await open_runs(pilot, app, 1)
    await pilot.press("e")
    await until(pilot, lambda: type(app.screen).__name__ == "ExportScreen", what="the dialog")
    app.screen.query_one("#export-path").value = str(target)


async def test_c_copies_the_setup_line_of_the_run_under_the_cursor(demo_runs):
    from tui_rl.config import apply_overrides, load_preset
    from tui_rl.engine.runs.record import create_run

    seeded = create_run(apply_overrides(load_preset("cartpole-dqn"), ["env.seed=9"]), name="seeded",
                        runs_dir=demo_runs, preset="cartpole-dqn")
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        table = await open_runs(pilot, app, 4)
        for row, name in ((0, "seeded"), (3, "cartpole-fast")):
            table.move_cursor(row=row)
            await pilot.press("c")
            await until(pilot, lambda: app.clipboard == reproduce_text(Path(demo_runs / name).resolve()),
                        what=f"the setup of {name}")
            assert "Copied" in toasts(app)
        assert reproduce_text(seeded) == "tui-rl train cartpole-dqn --set env.seed=9"
        assert "env.seed=9" not in app.clipboard


async def test_e_exports_the_policy_to_the_file_typed(tmp_path):
    import onnxruntime

    runs = tmp_path / "runs"
    run_dir = trained_run(runs)
    target = tmp_path / "out" / "policy.onnx"
    app, posted = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=runs), Posted()
    async with app.run_test(size=(80, 24), notifications=True, message_hook=posted) as pilot:
        await open_export_dialog(pilot, app, target)
        await pilot.click("#export-onnx")
        await until(pilot, lambda: "Exported" in toasts(app), what="the export")
        assert type(app.screen).__name__ == "RunsScreen"
        assert f"wrote {target} (onnx, checkpoint at 512 frames)" in " ".join(posted.notices())
    session = onnxruntime.InferenceSession(str(target))
    assert session.get_inputs()[0].name == "observation" and run_dir.is_dir()


async def test_a_run_without_a_checkpoint_says_so_in_the_dialog(demo_runs):
    app = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=demo_runs)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_runs(pilot, app, 3)
        await pilot.press("e")
        await until(pilot, lambda: type(app.screen).__name__ == "ExportScreen", what="the dialog")
        await pilot.press("enter")  # TorchScript, focused first
        status = app.screen.query_one("#export-status")
        await until(pilot, lambda: "no checkpoint to export yet" in str(status.render()), what="the reason")
        assert not app.screen.query_one("#export-torchscript").disabled  # another try is possible
        await pilot.press("escape")
        assert type(app.screen).__name__ == "RunsScreen"


async def test_the_export_dialog_overwrites_a_file_only_when_told(tmp_path):
    runs = tmp_path / "runs"
    trained_run(runs)
    target = tmp_path / "policy.pt"
    target.write_bytes(b"mine")
    app, posted = TuiRlApp(RunConfig(), preset_name="cartpole-dqn", runs_dir=runs), Posted()
    async with app.run_test(size=(80, 24), notifications=True, message_hook=posted) as pilot:
        await open_export_dialog(pilot, app, target)
        await pilot.click("#export-torchscript")
        status = app.screen.query_one("#export-status")
        await until(pilot, lambda: "already exists" in str(status.render()), what="the refusal")
        assert target.read_bytes() == b"mine"
        await pilot.click("#export-force")
        await pilot.click("#export-torchscript")
        await until(pilot, lambda: "Exported" in toasts(app), what="the export")
    assert target.read_bytes() != b"mine"
