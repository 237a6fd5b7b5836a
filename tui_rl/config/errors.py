"""Config errors that say which field is wrong and what would be allowed."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from tui_rl.config.algorithms import ALGORITHMS
from tui_rl.config.section import FieldValueError


@dataclass(frozen=True)
class FieldError:
    """One wrong field: its dotted path (``optim.lr``; empty for the whole config) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(top level)'}: {self.message}"


class ConfigError(ValueError):
    """A preset, file, override or edit that does not make a valid run config.

    ``str(error)`` is the text a user reads; ``errors`` holds the same per field, so a form can
    put each message beside its box without parsing text.
    """

    def __init__(self, message: str, errors: tuple[FieldError, ...] = ()) -> None:
        super().__init__(message)
        self.errors = errors or (FieldError("", message),)

    @classmethod
    def at(cls, path: str, message: str) -> ConfigError:
        """An error of one field, read as ``path: message``."""
        return cls(f"{path}: {message}", (FieldError(path, message),))


def from_validation_error(exc: ValidationError, source: str = "config") -> ConfigError:
    errors = []
    for error in exc.errors():
        # The discriminated union adds the tag ("dqn") to the location: drop it, users never type it.
        parts = [str(part) for part in error["loc"] if part not in ALGORITHMS]
        message = error["msg"]
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, FieldValueError):  # a validator that names the field it refuses
            parts.append(cause.field)
            message = cause.message
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "union_tag_invalid":
            message = f"unknown algorithm; allowed: {', '.join(ALGORITHMS)}"
        else:
            message = f"{message} (got {shorten(error.get('input'))})"
        errors.append(FieldError(".".join(parts), message))
    lines = [f"{source}: invalid configuration", *(f"  {error}" for error in errors)]
    return ConfigError("\n".join(lines), tuple(errors))


def shorten(value: object, limit: int = 80) -> str:
    """A value as the user wrote it, cut so a huge one does not flood the message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
