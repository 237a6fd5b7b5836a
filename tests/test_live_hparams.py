"""The live hyperparameters pane on its own, as a user types into it while a run trains: a refused
value is never sent and names its field, and no field goes on showing a refused value once the
user has left it, so what the pane shows is what holds or was sent."""

from __future__ import annotations

from conftest import until
from textual.app import App, ComposeResult
from textual.widgets import Input

from tui_rl.config import RunConfig
from tui_rl.tui.widgets.live_hparams import LiveHparams


class PaneApp(App):
    """The pane of a live run, keeping the changes it asks the trainer for."""

    def __init__(self) -> None:
        super().__init__()
        self.config = RunConfig()
        self.requested: list[dict] = []

    def compose(self) -> ComposeResult:
        yield LiveHparams()

    async def on_mount(self) -> None:
        await self.query_one(LiveHparams).load(self.config, editable=True)

    def on_live_hparams_change_requested(self, message: LiveHparams.ChangeRequested) -> None:
        self.requested.append(message.values)


def note(app: PaneApp) -> str:
    return str(app.query_one("#hp-note").render())


def shown(app: PaneApp, key: str) -> str:
    return app.query_one(f"#hp-{key.replace('.', '-')}", Input).value


async def enter(pilot, key: str, text: str) -> None:
    """Focus ``key``'s box, replace its text with ``text`` and press enter."""
    pilot.app.query_one(f"#hp-{key.replace('.', '-')}", Input).focus()
    await pilot.press("ctrl+a", "ctrl+k", *text, "enter")


async def test_a_refused_value_names_its_field_and_is_not_shown_once_left():
    app = PaneApp()
    async with app.run_test(size=(60, 24)) as pilot:
        await until(pilot, lambda: app.query(Input), what="the fields")
        gamma = f"{app.config.algorithm.gamma:g}"

        await enter(pilot, "algorithm.gamma", "1.5")
        await until(pilot, lambda: "Not sent: algorithm.gamma" in note(app), what="the refusal naming gamma")
        assert app.requested == []
        await pilot.press("down")  # left: gamma shows the value that holds again
        await until(pilot, lambda: shown(app, "algorithm.gamma") == gamma, what="gamma's value back")

        # A value sent and waiting for the trainer, then a refused one typed over it: once left,
        # the box shows the value on its way, not the refused one.
        await enter(pilot, "optim.lr", "0.003")
        await until(pilot, lambda: app.requested == [{"optim.lr": 0.003}], what="the change sent")
        await enter(pilot, "optim.lr", "-1")
        await until(pilot, lambda: "Not sent: optim.lr" in note(app), what="the refusal naming lr")
        await enter(pilot, "algorithm.gamma", "0.9")  # another field is applied meanwhile
        await until(pilot, lambda: len(app.requested) == 2, what="gamma sent")
        assert app.requested[-1] == {"algorithm.gamma": 0.9}
        assert shown(app, "optim.lr") == "0.003"

        app.query_one(LiveHparams).applied({"optim.lr": 0.003})  # the trainer's answer
        await until(pilot, lambda: not app.query_one("#hp-optim-lr").has_class("-pending"), what="lr applied")
        assert shown(app, "optim.lr") == "0.003"
