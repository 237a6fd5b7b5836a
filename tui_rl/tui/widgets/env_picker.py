"""A searchable list of the registered Gymnasium ids, grouped by env family, plus a free-text id.

The list loads in a thread worker once the first frame is on screen: from the cache on disk when
it was written for the installed packages (milliseconds), else by importing gymnasium's env
modules (and ALE's, MinAtar's), which takes seconds. ``Loaded`` bubbles up, so the screen starts
what would slow the list down (the spec probe) only once it is shown. Typing filters the list;
enter picks the highlighted id, or the text itself when nothing matches (an id registered by a
package the user imports elsewhere). A family whose package is missing is listed with the extra
that installs it. The ids the user's own modules register (``env.imports``) come first, as
"Your envs", or the error that kept one from importing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

if TYPE_CHECKING:
    from tui_rl.engine.envs.gym_registry import EnvGroup


class EnvPicker(Vertical):
    """Search box over a grouped option list of env ids."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "list_cursor('down')", show=False),
        Binding("up", "list_cursor('up')", show=False),
    ]

    class Chosen(Message):
        """The user picked an env id."""

        def __init__(self, picker: EnvPicker, env_id: str) -> None:
            super().__init__()
            self.picker = picker
            self.env_id = env_id

        @property
        def control(self) -> EnvPicker:
            return self.picker

    class Loaded(Message):
        """The registry was read (posted from the worker thread)."""

        def __init__(self, groups: list[EnvGroup] | None, error: str = "") -> None:
            super().__init__()
            self.groups = groups
            self.error = error

    def __init__(self, current: str, imports: list[str] | tuple[str, ...] = (), *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current = current
        #: the user's modules that register env ids (``env.imports``): listed first, as "Your envs"
        self.imports = tuple(imports)
        self.groups: list[EnvGroup] = []

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ to search, or type any id", id="env-search")
        # Ids, the search text and registry errors are data, never markup.
        options = OptionList(
            Option("Loading the Gymnasium registry…", disabled=True), id="env-list", markup=False
        )
        options.border_title = "Registered envs"
        yield options

    def on_mount(self) -> None:
        self.call_after_refresh(self.load_registry)

    @work(thread=True, exit_on_error=False, group="env-registry")
    def load_registry(self) -> None:
        try:
            from tui_rl.engine.envs.gym_registry import your_env_group
            from tui_rl.engine.envs.registry_cache import listed_env_groups

            yours = your_env_group(self.imports)
            groups, error = listed_env_groups(), ""
            if yours is not None:  # each id once: yours are not listed again under their namespace
                for group in groups:
                    group.ids = [env_id for env_id in group.ids if env_id not in yours.ids]
                groups = [yours, *(group for group in groups if group.ids or group.missing)]
        except Exception as exc:  # a broken plugin env must not take the picker down
            groups, error = None, f"{type(exc).__name__}: {exc}"
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(groups, error))

    def on_env_picker_loaded(self, message: Loaded) -> None:
        if message.groups is None:
            self.query_one(OptionList).set_options(
                [Option(f"Cannot read the registry: {message.error}", disabled=True)]
            )
            return
        self.groups = message.groups
        self.show_matches(self.query_one("#env-search", Input).value)

    def matches(self, query: str) -> list[tuple[EnvGroup, list[str]]]:
        """Each group with its ids that contain ``query``, or all of them when ``query`` names the
        group ("atari", "mujoco"); a missing family when its name matches, to say how to get it."""
        needle = query.strip().lower()
        found = []
        for group in self.groups:
            named = needle in group.title.lower() or needle in group.name
            hits = group.ids if named else [env_id for env_id in group.ids if needle in env_id.lower()]
            if hits or ((group.missing or group.error) and named):
                found.append((group, hits))
        return found

    def show_matches(self, query: str) -> None:
        option_list = self.query_one(OptionList)
        options: list[Option | None] = []
        for group, ids in self.matches(query):
            if options:
                options.append(None)  # a separator line between groups
            options.append(Option(group.title, disabled=True))
            if group.missing:
                options.append(Option(f"  not installed: {group.missing}", disabled=True))
            if group.error:
                options.append(Option(f"  {group.error}", disabled=True))
            options += [Option(f"  {env_id}", id=env_id) for env_id in ids]
        if not options and self.groups:
            options = [Option(f"No registered id matches; enter uses {query.strip()!r}", disabled=True)]
        option_list.set_options(options)
        # Highlight the current env when it is listed, else the first match.
        ids = [option.id for option in option_list.options if option.id]
        if ids:
            target = self.current if self.current in ids else ids[0]
            option_list.highlighted = option_list.get_option_index(target)

    @on(Input.Changed, "#env-search")
    def search(self, event: Input.Changed) -> None:
        event.stop()
        self.show_matches(event.value)

    @on(Input.Submitted, "#env-search")
    def submit(self, event: Input.Submitted) -> None:
        event.stop()
        option_list = self.query_one(OptionList)
        option = option_list.highlighted_option
        typed = event.value.strip()
        if option is not None and option.id and (typed.lower() in option.id.lower()):
            self.choose(option.id)
        elif typed:
            self.choose(typed)

    @on(OptionList.OptionSelected, "#env-list")
    def select(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.choose(event.option.id)

    def choose(self, env_id: str) -> None:
        self.current = env_id
        self.post_message(self.Chosen(self, env_id))
        # Out of the search box, so single keys (s to start) work; / comes back to search.
        self.query_one(OptionList).focus()

    def action_list_cursor(self, direction: str) -> None:
        """Up and down in the search box move the list's highlight, as in a combo box."""
        option_list = self.query_one(OptionList)
        if direction == "down":
            option_list.action_cursor_down()
        else:
            option_list.action_cursor_up()
