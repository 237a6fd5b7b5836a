"""The observation, action, reward and done specs of the chosen env with its transforms.

Probing builds the env, so it imports torch and TorchRL: the app that keeps a warm trainer asks
that process (engine/channel/warm_trainers.py), never loading torch itself; an app without one
(tests, mostly) probes in its own interpreter. A probe already made for the installed versions is
read from disk (engine/envs/spec_probe.py). Each runs in a thread worker, and a newer probe
supersedes an older one. Failures (an unknown id, a missing extra, bad kwargs) are shown, never
raised.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import work
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from tui_rl.config import RunConfig
from tui_rl.engine.channel.warm_trainers import SpareGone, ask_spare
from tui_rl.engine.envs.spec_probe import SpecProbe, cached_probe, probe_specs, store_probe
from tui_rl.tui.engine_imports import load_torchrl


class SpecView(Static):
    """What the env gives and takes, or why it could not be built."""

    class Probed(Message):
        """A probe finished: ``kind`` is "discrete"/"continuous", or None when it failed;
        ``inputs`` what the networks may read, by key, one observation's shapes, None when the
        env could not be built; ``groups`` a multi-agent env's groups of agents (engine's
        ``AgentGroup``: name, agents, one agent's observation and action), () for one agent."""

        def __init__(
            self,
            view: SpecView,
            env_id: str,
            kind: str | None,
            specs: dict[str, str],
            error: str,
            inputs: dict[str, tuple[int, ...]] | None = None,
            groups: tuple = (),
        ) -> None:
            super().__init__()
            self.view = view
            self.env_id = env_id
            self.kind = kind
            self.specs = specs
            self.error = error
            self.inputs = inputs
            self.groups = groups

        @property
        def control(self) -> SpecView:
            return self.view

        def clone(self) -> SpecView.Probed:
            """The same result as a new message, to be handled again later."""
            return SpecView.Probed(self.view, self.env_id, self.kind, self.specs, self.error, self.inputs, self.groups)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.border_title = "Specs"
        self.env_id = ""
        self.kind: str | None = None

    def probe(self, config: RunConfig) -> None:
        self.env_id = config.env.id
        self.kind = None
        self.set_class(False, "-error")
        self.update(Text(f"Building {config.env.id} to read its specs…", style="italic"))
        self.run_probe(config)

    @work(thread=True, exclusive=True, exit_on_error=False, group="spec-probe")
    def run_probe(self, config: RunConfig) -> None:
        probe = cached_probe(config)
        if probe is None:
            probe = probed(config, in_trainer=self.app.warm_trainer)
            store_probe(config, probe)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Probed(self, config.env.id, probe.kind, probe.specs, probe.error, probe.inputs,
                                           probe.groups))

    def on_spec_view_probed(self, message: Probed) -> None:
        # Runs before the message bubbles to the screen, so the view is current when the screen reads it.
        if message.env_id != self.env_id:
            return
        self.kind = message.kind
        self.set_class(bool(message.error), "-error")
        if message.error:
            self.update(Text(message.error))
            return
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for name, text in message.specs.items():
            table.add_row(name, Text(text))  # Text, not markup: "[scalar]" is a shape, not a style
        self.update(table)


def probed(config: RunConfig, in_trainer: bool) -> SpecProbe:
    """Probe ``config``'s env in the spare trainer process, or (``in_trainer`` False) here."""
    if not in_trainer:
        load_torchrl()
        return probe_specs(config)
    try:
        answer = ask_spare({"probe": config.model_dump(mode="json")})
        return SpecProbe.from_json(answer) if "failed" not in answer else SpecProbe(None, {}, answer["failed"])
    except SpareGone as exc:
        return SpecProbe(None, {}, f"could not build {config.env.id}: {exc}")
