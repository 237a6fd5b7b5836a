"""Text read from a run folder made safe to reach a terminal or the clipboard. A received folder
may hold escape sequences (a clipboard write, a screen clear) or a newline that ends a ``#``
comment line of a pasted command: every such character is shown as its escape instead.

No imports beyond the standard library: the app and ``tui-rl runs`` use it before torch loads.
"""

from __future__ import annotations

import re
from typing import Any

#: C0 and C1 control characters, DEL, and the bidirectional controls that reorder what is shown
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` on one line with every control character written as its escape (``\\x1b``, ``\\n``)."""
    return CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode(), text)


def printable_json(value: Any) -> Any:
    """Every string in a JSON value (keys included) made :func:`printable`."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_json(key): printable_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [printable_json(item) for item in value]
    return value
