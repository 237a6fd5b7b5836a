"""The observation, action, reward and done specs of the chosen env with its transforms.

Probing builds the env, so it imports torch and TorchRL: it runs in a thread worker, and a newer
probe supersedes an older one. Failures (an unknown id, a missing extra, bad kwargs) are shown,
never raised.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import work
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from tui_rl.config import RunConfig
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
        kind, specs, error, inputs, groups = None, {}, "", None, ()
        try:
            load_torchrl()
            from tui_rl.engine.envs.making import action_kind, describe_specs, make_env
            from tui_rl.engine.envs.multi_agent import agent_groups, group_action_kinds, is_multi_agent_env
            from tui_rl.engine.envs.user_envs import user_code
            from tui_rl.engine.networks.encoders import observation_inputs

            env = make_env(config, num_envs=1)
            try:
                specs = describe_specs(env)
                if code := user_code(config.env.id, config.env.imports):  # what building it ran
                    specs["your code"] = ", ".join(code)
                if is_multi_agent_env(env):  # each group's networks read its own agents' observations
                    groups = tuple(agent_groups(env))
                    kinds = set(group_action_kinds(env).values())
                    kind = kinds.pop() if len(kinds) == 1 else None
                else:
                    kind, inputs = action_kind(env), observation_inputs(env)
            finally:
                env.close()
        except ValueError as exc:  # ConfigError / EnvError: already a readable sentence
            error = str(exc)
        except Exception as exc:  # anything else a third-party env raises
            error = f"{type(exc).__name__}: {exc}"
        if not get_current_worker().is_cancelled:
            self.post_message(self.Probed(self, config.env.id, kind, specs, error, inputs, groups))

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
