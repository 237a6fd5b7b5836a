"""The Policy tab's form: the network and exploration fields, checked against the env's observation
as the user types (a ConvNet only for images whose size its layers fit, an MLP for vectors), with
the shapes each layer will see beneath them.

The observation shape comes from the Setup screen's spec probe (:meth:`PolicyForm.fit_observation`);
until then only the config's own rules apply. The fit itself is ``config/network_fit.py``, the
same words the engine and ``presets validate`` use. No torch here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.app import ComposeResult
from textual.widgets import Static

from tui_rl.config.network_fit import describe_network, network_misfit
from tui_rl.tui.widgets.hparam_form import FieldRow, HparamForm

NETWORK_PREFIX = "network."


class PolicyForm(HparamForm):
    """An :class:`HparamForm` that also says whether the network fits the observation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env_id = ""
        #: one observation's shape, from the last spec probe; None until one succeeds
        self.observation: tuple[int, ...] | None = None
        #: (path, message) of the misfit this form marked on a row, to clear it once it is fixed
        self.misfit: tuple[str, str] | None = None

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("", id="network-shapes", markup=False)

    def on_mount(self) -> None:
        self.show_fit()

    def fit_observation(self, env_id: str, observation: Sequence[int] | None) -> None:
        """The env's observation shape (None: the env could not be built)."""
        self.env_id = env_id
        self.observation = None if observation is None else tuple(observation)
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
        if self.observation is None:
            view.update("Network shapes show once the env is built.")
            view.set_class(False, "-invalid")
            return
        misfit = network_misfit(self.config.network, self.observation, self.env_id)
        view.set_class(misfit is not None, "-invalid")
        if misfit is None:
            view.update(f"Shapes: {describe_network(self.config.network, self.observation)}")
            return
        (error,) = misfit.errors
        view.update(f"✗ {error.path}: {error.message}")
        if error.path in rows and error.path not in self.invalid:
            self.refuse(rows[error.path], error.message)
            self.misfit = (error.path, error.message)
