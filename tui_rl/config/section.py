"""The base of every config section, the marker of live-tunable fields, and the error a validator
raises for one field."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

#: ``json_schema_extra`` of a field the trainer can change while it runs
LIVE = {"live": True}


class FieldValueError(ValueError):
    """A validator's complaint about ``field`` (a dotted path below the model it validates), so the
    error names the field (``algorithm.eps_start``), not only the model that checked it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, so typos in presets are caught;
    NaN and infinity are refused; numbers are numbers (``true`` is not 1).

    A field may default to None only if None is its default: TOML has no null, so a saved
    config omits None values and loading gives the default back.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _numbers_are_not_booleans(cls, data: Any) -> Any:
        # pydantic's lax mode reads true as 1 and 1 as true: `optim.lr=true` would train at lr 1.
        if isinstance(data, dict):
            for name, value in data.items():
                field = cls.model_fields.get(name) if isinstance(name, str) else None
                if field is None:
                    continue
                if boolean_for_number(field.annotation, value):
                    raise FieldValueError(name, f"expected a number, not {value!r}")
                if leaf_types(field.annotation) == {bool} and not isinstance(value, bool):
                    raise FieldValueError(name, f"expected true or false, not {value!r}")
        return data


def boolean_for_number(annotation: Any, value: Any) -> bool:
    """Whether ``value`` holds true/false where ``annotation`` wants a number (or numbers)."""
    leaves = leaf_types(annotation)
    if isinstance(value, bool):
        return bool not in leaves and bool(leaves & {int, float})
    if isinstance(value, list):
        items = {arg for leaf in leaves if typing.get_origin(leaf) is list for arg in typing.get_args(leaf)}
        return any(boolean_for_number(item, v) for item in items for v in value)
    return False


def leaf_types(annotation: Any) -> set[Any]:
    """The plain types a field accepts (``int | None`` -> {int, NoneType})."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set().union(*(leaf_types(arg) for arg in typing.get_args(annotation)))
    if typing.get_origin(annotation) is typing.Annotated:
        return leaf_types(typing.get_args(annotation)[0])
    return {annotation}
