"""The Policy tab's form: the network and exploration fields, checked against the env's observation
as the user types (a ConvNet only for images whose size its layers fit, an MLP for vectors), with
the shapes each layer will see beneath them.

The observation's shapes, by key for a Dict, come from the Setup screen's spec probe
(:meth:`PolicyForm.fit_inputs`);
until then only the config's own rules apply. A multi-agent env's probe gives its groups of agents
instead: the form lists them (agents, one agent's observation and action) and says how the
algorithm's networks treat them (one set of weights per group or per agent, a central critic). The fit itself is ``config/network_fit.py``, the
same words the engine and ``presets validate`` use. No torch here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual.app import ComposeResult
from textual.widgets import Static

from tui_rl.config.network_fit import OBSERVATION_KEY, describe_inputs, inputs_misfit
from tui_rl.tui.widgets.hparam_form import FieldRow, HparamForm

NETWORK_PREFIX = "network."


class PolicyForm(HparamForm):
    """An :class:`HparamForm` that also says whether the network fits the observation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env_id = ""
        #: what the networks may read, by key, one observation's shapes, from the last spec probe;
        #: None until one succeeds
        self.inputs: dict[str, tuple[int, ...]] | None = None
        #: a multi-agent env's groups (the engine's ``AgentGroup``s), from the last spec probe
        self.groups: tuple = ()
        #: (path, message) of the misfit this form marked on a row, to clear it once it is fixed
        self.misfit: tuple[str, str] | None = None

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("", id="network-shapes", markup=False)

    def on_mount(self) -> None:
        self.show_fit()

    def fit_inputs(self, env_id: str, inputs: Mapping[str, Sequence[int]] | None, groups: tuple = ()) -> None:
        """The env's observation shapes by key (None: the env could not be built, or it has
        ``groups`` of agents)."""
        self.env_id = env_id
        self.inputs = None if inputs is None else {key: tuple(shape) for key, shape in inputs.items()}
        self.groups = tuple(groups)
        self.show_fit()

    async def rebuild(self, config, paths: list[str]) -> None:
        await super().rebuild(config, paths)
        self.misfit = None
        self.show_fit()

    def edit(self, row: FieldRow, value: Any) -> None:
        super().edit(row, value)
        if row.field.path.startswith(NETWORK_PREFIX):
            self.show_fit()

    def show_fit(self) -> None:
        shapes = self.query("#network-shapes")
        if not shapes:
            return
        rows = self.rows()
        if self.misfit is not None:
            path, message = self.misfit
            if path in rows and self.invalid.get(path) == message:  # not since replaced by a typing error
                self.accept(rows[path], rows[path].value)
            self.misfit = None
        view = shapes.first(Static)
        if self.groups:
            view.update(describe_agent_groups(self.groups, self.config.algorithm))
            view.set_class(False, "-invalid")
            return
        if self.inputs is None:
            view.update("Network shapes show once the env is built.")
            view.set_class(False, "-invalid")
            return
        misfit = inputs_misfit(self.config.network, self.inputs, self.env_id)
        view.set_class(misfit is not None, "-invalid")
        keys = "" if list(self.inputs) == [OBSERVATION_KEY] else "Keys: " + ", ".join(
            f"{key} [{'x'.join(map(str, shape)) or 'scalar'}]" for key, shape in self.inputs.items()) + "\n"
        if misfit is None:
            view.update(f"{keys}Shapes: {describe_inputs(self.config.network, self.inputs)}")
            return
        (error,) = misfit.errors
        view.update(f"{keys}✗ {error.path}: {error.message}")
        if error.path in rows and error.path not in self.invalid:
            self.refuse(rows[error.path], error.message)
            self.misfit = (error.path, error.message)


def describe_agent_groups(groups: Sequence, algorithm: Any) -> str:
    """The groups of agents and how ``algorithm``'s networks treat them: shared weights (its
    ``share_params``) and, for an actor-critic, a central critic (its ``centralised``)."""
    lines = [f"Groups: {len(groups)}"]
    for group in groups:
        plural = "s" if group.agents > 1 else ""
        lines.append(f"  {group.name}: {group.agents} agent{plural}, "
                     f"observation {group.observation}, action {group.action}")
    shared = getattr(algorithm, "share_params", None)
    if shared is not None:
        lines.append("Parameters: shared by the agents of a group" if shared
                     else "Parameters: one set per agent")
    centralised = getattr(algorithm, "centralised", None)
    if centralised is not None:
        lines.append("Critic: centralised (reads every agent of its group)" if centralised
                     else "Critic: decentralised (each agent its own observation)")
    if len(groups) > 1:
        lines.append("One policy per group")
    return "\n".join(lines)
