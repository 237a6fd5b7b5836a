"""A form over some fields of the run config, built from the pydantic model: one row per field with
its name, an input, and its description, which an error replaces while the value is invalid.

Every keystroke is validated against the form's whole config (its ``config``, which its owner
keeps current) through :func:`~tui_rl.config.edit.edit_field`, so cross-field rules and bounds
apply as the user types. A valid value becomes the form's config and is posted as
:class:`HparamForm.Edited`; an invalid one leaves the config alone, shows the error's message for
that field (``ConfigError.errors``) and is posted as :class:`FieldForm.Invalid`.
"""

from __future__ import annotations

import json
import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static

from tui_rl.config import ConfigError, RunConfig, parse_value
from tui_rl.config.edit import edit_field, field_value

LIVE_MARK = "●"
JSON_EXAMPLE = '{"key": value}'
WANTED_JSON = f"expected a JSON object such as {JSON_EXAMPLE}"


@dataclass(frozen=True)
class FieldSpec:
    """One config field, as the form shows it."""

    path: str  # "optim.lr", or "device" for a top-level field
    info: FieldInfo

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]

    @property
    def live(self) -> bool:
        extra = self.info.json_schema_extra
        return isinstance(extra, dict) and bool(extra.get("live"))

    @property
    def choices(self) -> tuple[Any, ...] | None:
        """The allowed values of a pure Literal field (a Select), else None."""
        annotation = self.info.annotation
        return get_args(annotation) if get_origin(annotation) is Literal else None

    @property
    def is_bool(self) -> bool:
        return self.info.annotation is bool

    @property
    def kinds(self) -> tuple[Any, ...]:
        annotation = self.info.annotation
        if get_origin(annotation) in (Union, types.UnionType):
            return tuple(get_origin(arg) or arg for arg in get_args(annotation))
        return (get_origin(annotation) or annotation,)

    @property
    def bounds(self) -> str:
        """Bounds from the model (``> 0, <= 1``), for the description."""
        symbols = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
        parts = [
            f"{symbol} {number_text(getattr(rule, attr))}"
            for rule in self.info.metadata
            for attr, symbol in symbols.items()
            if getattr(rule, attr, None) is not None
        ]
        return ", ".join(parts)

    @property
    def note(self) -> str:
        """The description, with the bounds or the expected form when there are some."""
        description = self.info.description or ""
        if dict in self.kinds:
            return f"{description}, as a JSON object: {JSON_EXAMPLE}"
        return f"{description} ({self.bounds})" if self.bounds else description

    @property
    def placeholder(self) -> str:
        return f"JSON {JSON_EXAMPLE}" if dict in self.kinds else ""

    def to_text(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        if isinstance(value, dict):
            return json.dumps(value) if value else ""
        return str(value)

    def parse(self, text: str) -> Any:
        """The value typed, read as TOML would (``3e-4``, ``true``); lists may omit brackets,
        tables may be JSON, and an empty box is None where the field allows it."""
        text = text.strip()
        kinds = self.kinds
        if not text and type(None) in kinds:
            return None
        if kinds == (str,):
            return text
        if dict in kinds:
            return {} if not text else self.parse_json_object(text)
        if list in kinds and not text.startswith("["):
            text = f"[{text}]"
        return parse_value(text)


    def parse_json_object(self, text: str) -> dict[str, Any]:
        """A JSON object; anything else is a ConfigError naming this field and the form wanted."""

        def refuse_constant(name: str) -> Any:
            raise ConfigError.at(self.path, f"{name} is not allowed; use a finite number")

        try:
            value = json.loads(text, parse_constant=refuse_constant)
        except json.JSONDecodeError as exc:
            where = f"{exc.msg} at column {exc.colno}"
            raise ConfigError.at(self.path, f"{WANTED_JSON} ({where})") from None
        if not isinstance(value, dict):
            raise ConfigError.at(self.path, f"{WANTED_JSON}, got {text}")
        return value


def number_text(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def field_spec(config: RunConfig, path: str) -> FieldSpec:
    model: BaseModel = config
    *sections, name = path.split(".")
    for section in sections:
        model = getattr(model, section)
    return FieldSpec(path, type(model).model_fields[name])


def message_for(path: str, error: ConfigError) -> str:
    """What ``error`` says about ``path``; errors of other fields (a rule across fields) with
    their paths."""
    own = [field_error.message for field_error in error.errors if field_error.path == path]
    return "; ".join(own) if own else "; ".join(map(str, error.errors))


def control_id(path: str) -> str:
    return "field-" + path.replace(".", "-").replace("_", "-")


class FieldRow(Horizontal):
    """Name (marked if live-tunable), input, and description or error, for any field that has a
    ``path``, ``name``, ``live``, ``is_bool``, ``choices``, ``note``, ``placeholder``, ``to_text``
    and ``parse`` (which raises ConfigError for text it cannot read)."""

    def __init__(self, field: Any, value: Any) -> None:
        super().__init__(classes="field-row")
        self.field = field
        self.value = value

    def compose(self) -> ComposeResult:
        field = self.field
        label = f"{field.name} {LIVE_MARK}" if field.live else field.name
        yield Label(label, classes="field-name -live" if field.live else "field-name")
        yield self.make_control()
        yield Static(field.note, classes="field-note", markup=False)

    def make_control(self) -> Widget:
        field = self.field
        if field.is_bool:
            return Checkbox(value=bool(self.value), id=control_id(field.path), compact=True)
        if field.choices is not None:
            return Select(
                [(str(choice), choice) for choice in field.choices],
                value=self.value,
                allow_blank=False,
                compact=True,
                id=control_id(field.path),
            )
        return Input(
            field.to_text(self.value),
            placeholder=field.placeholder,
            id=control_id(field.path),
            compact=True,
            select_on_focus=False,
        )

    def show_error(self, message: str | None) -> None:
        self.set_class(message is not None, "-invalid")
        note = self.query_one(".field-note", Static)
        note.update(self.field.note if message is None else f"✗ {message}")

    def set_value(self, value: Any) -> None:
        """Show ``value`` without posting a change (the config changed elsewhere)."""
        self.value = value
        control = self.query_one(f"#{control_id(self.field.path)}")
        with control.prevent(Input.Changed, Checkbox.Changed, Select.Changed):
            if isinstance(control, Input):
                control.value = self.field.to_text(value)
            else:
                control.value = value
        self.show_error(None)


class FieldForm(VerticalScroll):
    """Rows of fields; subclasses say how a typed value is checked and applied (:meth:`edit`)."""

    class Invalid(Message):
        """A field holds a value that is refused; nothing was applied."""

        def __init__(self, form: FieldForm, path: str, message: str) -> None:
            super().__init__()
            self.form = form
            self.path = path
            self.message = message

        @property
        def control(self) -> FieldForm:
            return self.form

    def __init__(self, *, id: str | None = None, classes: str = "", focusable: bool = False) -> None:
        super().__init__(id=id, classes=f"field-form {classes}".strip())
        # Tab goes from the widget before straight into the first box, not onto the scroll area;
        # a focusable form is one a tab focuses as a whole (the keys still switch tabs there).
        self.can_focus = focusable
        #: path -> error message, for every field whose typed value is refused
        self.invalid: dict[str, str] = {}

    def rows(self) -> dict[str, FieldRow]:
        return {row.field.path: row for row in self.query(FieldRow)}

    def focus_first(self) -> None:
        controls = self.query("FieldRow Input, FieldRow Checkbox, FieldRow Select")
        if controls:
            controls.first().focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        row = self.row_of(event.input)
        try:
            value = row.field.parse(event.value)
        except ConfigError as exc:
            self.refuse(row, message_for(row.field.path, exc))
            return
        self.changed(row, value)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self.changed(self.row_of(event.checkbox), event.value)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.changed(self.row_of(event.select), event.value)

    def changed(self, row: FieldRow, value: Any) -> None:
        # Controls also report their first value when mounted: only a real change is an edit.
        if value == row.value and row.field.path not in self.invalid:
            return
        self.edit(row, value)

    def row_of(self, control: Widget) -> FieldRow:
        return next(node for node in control.ancestors if isinstance(node, FieldRow))

    def refuse(self, row: FieldRow, message: str) -> None:
        self.invalid[row.field.path] = message
        row.show_error(message)
        self.post_message(self.Invalid(self, row.field.path, message))

    def accept(self, row: FieldRow, value: Any) -> None:
        self.invalid.pop(row.field.path, None)
        row.value = value
        row.show_error(None)

    def edit(self, row: FieldRow, value: Any) -> None:
        raise NotImplementedError


class HparamForm(FieldForm):
    """A form over config fields (``paths``), grouped under their section's title; ``source``
    names the form in the errors of an edit."""

    class Edited(Message):
        """A field took a valid value; ``config`` is the whole new config."""

        def __init__(self, form: HparamForm, path: str, config: RunConfig) -> None:
            super().__init__()
            self.form = form
            self.path = path
            self.config = config

        @property
        def control(self) -> HparamForm:
            return self.form

    def __init__(
        self,
        config: RunConfig,
        paths: list[str],
        *,
        group_titles: dict[str, str] | None = None,
        source: str = "setup",
        id: str | None = None,
        classes: str = "",
        focusable: bool = False,
    ) -> None:
        super().__init__(id=id, classes=f"hparam-form {classes}".strip(), focusable=focusable)
        self.config = config
        self.paths = paths
        self.group_titles = group_titles or {}
        self.source = source

    def compose(self) -> ComposeResult:
        group = None
        for path in self.paths:
            section = path.rpartition(".")[0]
            if section != group and section in self.group_titles:
                yield Static(self.group_titles[section], classes="group-title")
            group = section
            yield FieldRow(field_spec(self.config, path), field_value(self.config, path))

    async def rebuild(self, config: RunConfig, paths: list[str]) -> None:
        """New fields (another algorithm has other hyperparameters)."""
        self.config = config
        self.paths = paths
        self.invalid.clear()
        await self.recompose()

    def edit(self, row: FieldRow, value: Any) -> None:
        path = row.field.path
        try:
            config, _ = edit_field(self.config, path, value, source=self.source)
        except ConfigError as exc:
            self.refuse(row, message_for(path, exc))
            return
        self.accept(row, value)
        self.config = config
        self.post_message(self.Edited(self, path, config))
