"""The ordered transform stack: add from the registry, remove, move up and down, and a form for
the highlighted transform's parameters, built from its ``ParamSpec``s and checked by the registry
as the user types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui_rl.config import ConfigError, TransformConfig
from tui_rl.config.edit import parse_value
from tui_rl.engine.envs.envpool_preprocessing import EnvPoolPlan
from tui_rl.engine.envs.transforms import TRANSFORMS, ParamSpec, check_params
from tui_rl.tui.widgets.hparam_form import FieldForm, FieldRow, message_for


#: the Transforms tab's height from which the EnvPool rows are shown above the stack
MIN_HEIGHT_WITH_ROWS = 24


def summary(transform: TransformConfig) -> str:
    """``StepCounter(max_steps=10)``: the name and the params set explicitly."""
    params = ", ".join(f"{key}={value!r}" for key, value in transform.params.items())
    return f"{transform.name}({params})"


@dataclass(frozen=True)
class ParamField:
    """A transform parameter, shaped for :class:`FieldRow`."""

    transform: str
    spec: ParamSpec

    @property
    def path(self) -> str:
        return f"transforms.{self.transform}.{self.spec.name}"

    @property
    def name(self) -> str:
        return self.spec.name

    live = False
    choices = None
    placeholder = ""

    @property
    def is_bool(self) -> bool:
        return self.spec.kind == "bool"

    @property
    def note(self) -> str:
        return self.spec.description + (" (required)" if self.spec.required else "")

    def to_text(self, value: Any) -> str:
        if value is None:
            return ""
        if self.spec.kind == "keys":
            return ", ".join(k if isinstance(k, str) else ".".join(k) for k in value)
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return str(value)

    def parse(self, text: str) -> Any:
        """Empty: the default. Keys are comma-separated (``next.reward`` for a nested one)."""
        text = text.strip()
        if not text:
            return None
        kind = self.spec.kind
        if kind in ("str", "dtype"):
            return text
        if kind == "keys" and not text.startswith("["):
            return [key.split(".") if "." in key else key for key in map(str.strip, text.split(","))]
        if kind in ("list", "ints") and "," in text and not text.startswith("["):
            text = f"[{text}]"
        return parse_value(text)


class ParamForm(FieldForm):
    """The parameters of one transform of the stack."""

    class Edited(Message):
        """The transform's params took valid values."""

        def __init__(self, form: ParamForm, transform: TransformConfig) -> None:
            super().__init__()
            self.form = form
            self.transform = transform

        @property
        def control(self) -> ParamForm:
            return self.form

    def __init__(self, transform: TransformConfig | None, *, id: str | None = None) -> None:
        # Half of the Transforms tab at every size: each note goes under its row.
        super().__init__(id=id, classes="param-form side-form notes-under")
        self.transform = transform

    def compose(self) -> ComposeResult:
        if self.transform is None:
            yield Static("Add a transform to edit its parameters.", classes="empty-note")
            return
        spec = TRANSFORMS.get(self.transform.name)
        if spec is None:
            yield Static(
                f"{self.transform.name} is not in the registry.", classes="empty-note", markup=False
            )
            return
        yield Static(spec.description, classes="group-title", markup=False)
        for param in spec.params:
            value = self.transform.params.get(param.name, param.default)
            yield FieldRow(ParamField(spec.name, param), value)
        if not spec.params:
            yield Static("No parameters.", classes="empty-note")

    async def show(self, transform: TransformConfig | None) -> None:
        self.transform = transform
        self.invalid.clear()
        await self.recompose()

    def edit(self, row: FieldRow, value: Any) -> None:
        assert self.transform is not None
        params = dict(self.transform.params)
        if value is None:
            params.pop(row.field.name, None)  # empty box: back to the default
        else:
            params[row.field.name] = value
        candidate = TransformConfig(name=self.transform.name, params=params)
        try:
            check_params(candidate)
        except ConfigError as exc:
            self.refuse(row, message_for(row.field.path, exc))
            return
        self.accept(row, value)
        self.transform = candidate
        self.post_message(self.Edited(self, candidate))


class TransformStack(Vertical):
    """The stack, in order, with keys to change it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Out of the footer (full at 80 columns): the buttons under the stack name these keys.
        Binding("a", "add", "Add transform", show=False, id="transforms.add"),
        Binding(
            "delete,x", "remove", "Remove transform", key_display="del", show=False,
            id="transforms.remove",
        ),
        Binding(
            "shift+up,K", "move(-1)", "Move transform up", key_display="⇧↑", show=False,
            id="transforms.up",
        ),
        Binding(
            "shift+down,J", "move(1)", "Move transform down", key_display="⇧↓", show=False,
            id="transforms.down",
        ),
    ]

    class Changed(Message):
        """The stack changed: added, removed, reordered, or a parameter edited."""

        def __init__(self, stack: TransformStack, transforms: list[TransformConfig]) -> None:
            super().__init__()
            self.stack = stack
            self.transforms = transforms

        @property
        def control(self) -> TransformStack:
            return self.stack

    class AddRequested(Message):
        """The user asked to add a transform (the screen asks which)."""

    def __init__(
        self, transforms: list[TransformConfig], *, envpool: EnvPoolPlan | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.transforms = list(transforms)
        self.envpool = envpool

    def compose(self) -> ComposeResult:
        inside = Static(self.envpool_text(), id="envpool-inside", markup=False)
        inside.border_title = "Inside EnvPool (read-only)"
        inside.display = False  # shown once the stack knows its height (on_resize)
        yield inside
        with Horizontal(id="transform-columns"):
            stack = OptionList(id="transform-list", markup=False)  # params hold brackets: [0.5]
            stack.border_title = self.stack_title()
            yield stack
            form = ParamForm(self.transforms[0] if self.transforms else None, id="transform-params")
            form.border_title = "Parameters"
            yield form

    def on_mount(self) -> None:
        self.show_stack(0)

    @property
    def index(self) -> int | None:
        return self.query_one("#transform-list", OptionList).highlighted

    def envpool_text(self) -> str:
        rows = self.envpool.rows if self.envpool else ()
        return "\n".join(f"• {row}" for row in rows)

    def show_envpool(self, plan: EnvPoolPlan | None) -> None:
        """Show what EnvPool does inside for the config (its backend takes EnvPool), and mark the
        stack's transforms it does in TorchRL's place."""
        if plan == self.envpool:
            return
        self.envpool = plan
        self.query_one("#envpool-inside", Static).update(self.envpool_text())
        self.query_one("#transform-list", OptionList).border_title = self.stack_title()
        self.show_inside()
        self.show_stack(self.index)

    def stack_title(self) -> str:
        marked = self.envpool is not None and bool(self.envpool.inside)
        return "Stack (* inside EnvPool)" if marked else "Stack (applied in order)"

    def show_inside(self) -> None:
        """The EnvPool rows, where the tab is tall enough to keep the stack in view beside them
        (the stack's marks say it in any case)."""
        rows = bool(self.envpool and self.envpool.rows)
        self.query_one("#envpool-inside", Static).display = rows and self.size.height >= MIN_HEIGHT_WITH_ROWS

    def on_resize(self) -> None:
        self.show_inside()

    def prompt(self, i: int, transform: TransformConfig) -> str:
        done_inside = self.envpool is not None and i in self.envpool.inside
        return f"{i + 1}{'*' if done_inside else '.'} {summary(transform)}"  # as wide either way

    def show_stack(self, highlight: int | None) -> None:
        option_list = self.query_one("#transform-list", OptionList)
        options = [Option(self.prompt(i, t)) for i, t in enumerate(self.transforms)]
        option_list.set_options(
            options or [Option("Empty: press a to add a transform.", disabled=True)]
        )
        if self.transforms and highlight is not None:
            option_list.highlighted = max(0, min(highlight, len(self.transforms) - 1))

    async def set_transforms(self, transforms: list[TransformConfig]) -> None:
        """Show another stack (a preset was loaded)."""
        self.transforms = list(transforms)
        self.show_stack(0)
        await self.query_one(ParamForm).show(self.transforms[0] if self.transforms else None)

    async def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if self.transforms:
            await self.query_one(ParamForm).show(self.transforms[event.option_index])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.transforms:  # enter on a transform: edit its parameters
            self.query_one(ParamForm).focus_first()

    def on_param_form_edited(self, event: ParamForm.Edited) -> None:
        event.stop()
        index = self.index
        if index is None:
            return
        self.transforms[index] = event.transform
        option_list = self.query_one("#transform-list", OptionList)
        option_list.replace_option_prompt_at_index(index, self.prompt(index, event.transform))
        self.changed()

    def changed(self) -> None:
        self.post_message(self.Changed(self, list(self.transforms)))

    def action_add(self) -> None:
        self.post_message(self.AddRequested())

    async def add(self, name: str) -> None:
        """Append ``name`` with its required params at their defaults, and select it."""
        spec = TRANSFORMS[name]
        params = {p.name: p.default for p in spec.params if p.required and p.default is not None}
        self.transforms.append(TransformConfig(name=name, params=params))
        self.show_stack(len(self.transforms) - 1)
        await self.query_one(ParamForm).show(self.transforms[-1])
        self.changed()

    async def action_remove(self) -> None:
        index = self.index
        if index is None or not self.transforms:
            return
        del self.transforms[index]
        self.show_stack(index)
        await self.query_one(ParamForm).show(
            self.transforms[self.index] if self.transforms and self.index is not None else None
        )
        self.changed()

    def action_move(self, offset: int) -> None:
        index = self.index
        if index is None or not 0 <= index + offset < len(self.transforms):
            return
        items = self.transforms
        items[index], items[index + offset] = items[index + offset], items[index]
        self.show_stack(index + offset)
        self.changed()
