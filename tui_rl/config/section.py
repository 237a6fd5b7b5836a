"""The base of every config section, and the marker of live-tunable fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

#: ``json_schema_extra`` of a field the trainer can change while it runs
LIVE = {"live": True}


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, so typos in presets are caught.

    A field may default to None only if None is its default: TOML has no null, so a saved
    config omits None values and loading gives the default back.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
