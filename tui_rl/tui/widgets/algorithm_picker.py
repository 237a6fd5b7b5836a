"""The algorithm choice: one button per algorithm, and only those that fit the env's action space
(the registry's ``action_kinds``) and its agents (a multi-agent env takes only the registry's
``multi_agent`` algorithms, a single-agent env only the others) can be pressed; under them, what
the last switch changed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import RadioButton, RadioSet, Static

from tui_rl.config import ALGORITHMS, fitting_algorithms
from tui_rl.engine.envs.families import is_multi_agent


class AlgorithmPicker(Vertical):
    """Radio buttons over the algorithms; the ones that do not fit the env are disabled."""

    class Chosen(Message):
        """The user chose an algorithm."""

        def __init__(self, picker: AlgorithmPicker, name: str) -> None:
            super().__init__()
            self.picker = picker
            self.name = name

        @property
        def control(self) -> AlgorithmPicker:
            return self.picker

    def __init__(self, current: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current = current
        self.fit_note = "Action space not probed yet."

    def compose(self) -> ComposeResult:
        with RadioSet(id="algorithm-set"):
            for name in ALGORITHMS:
                yield RadioButton(ALGORITHMS[name].title, value=name == self.current, id=f"algorithm-{name}")
        yield Static(id="algorithm-fit", markup=False)
        yield Static(id="algorithm-changes", markup=False)

    def on_mount(self) -> None:
        self.show_note()

    def offered(self) -> list[str]:
        return [name for name in ALGORITHMS if not self.button(name).disabled]

    def button(self, name: str) -> RadioButton:
        return self.query_one(f"#algorithm-{name}", RadioButton)

    def fit_to(self, env_id: str, kind: str | None) -> None:
        """Offer only what fits ``kind`` and ``env_id``'s agents; a None kind (the env could not be
        probed) offers every algorithm for its agents."""
        offered = fitting_algorithms_for(env_id, kind)
        for name in ALGORITHMS:
            self.button(name).disabled = name not in offered
        if kind is None:
            self.fit_note = "The action space is unknown: every algorithm for its agents is offered."
        elif is_multi_agent(env_id):
            self.fit_note = (f"{env_id} has groups of agents with {kind} actions: "
                             f"{', '.join(n.upper() for n in offered)} train in it.")
        else:  # the multi-agent algorithms go unsaid: they never train one agent
            left_out = ", ".join(n.upper() for n in ALGORITHMS if n not in offered and not ALGORITHMS[n].multi_agent)
            self.fit_note = f"{env_id} has {kind} actions" + (
                f": {left_out} cannot act in it." if left_out else "."
            )
        self.show_note()

    def show_note(self) -> None:
        # Said in words too: without colour a pressed radio button looks like the others.
        self.query_one("#algorithm-fit", Static).update(
            f"Training with {self.current.upper()}.\n{self.fit_note}"
        )

    def show_changes(self, changes: list[str]) -> None:
        """What the last switch did to the algorithm's values (switch_algorithm's sentences)."""
        self.query_one("#algorithm-changes", Static).update("\n".join(changes))

    def show_choice(self, name: str) -> None:
        """Press ``name`` without posting a choice (the config changed elsewhere)."""
        self.current = name
        button = self.button(name)
        with self.prevent(RadioSet.Changed):
            button.value = True
        self.show_note()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        event.stop()
        name = (event.pressed.id or "").removeprefix("algorithm-")
        if name and name != self.current:
            self.current = name
            self.show_note()
            self.post_message(self.Chosen(self, name))


def fitting_algorithms_for(env_id: str, kind: str | None) -> list[str]:
    """The algorithms that act in ``kind`` actions (any, when None) and train ``env_id``'s agents."""
    multi_agent = is_multi_agent(env_id)
    return [name for name in (fitting_algorithms(kind) if kind else ALGORITHMS)
            if ALGORITHMS[name].multi_agent == multi_agent]
