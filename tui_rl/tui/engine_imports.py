"""The first import of torchrl, made once for all of the app's thread workers.

torchrl's first import is not thread-safe: two workers importing it at once (the spec probe and
Start's preflight check, say) fail with ``KeyError: 'torchrl'`` or a partially initialised module.
Every worker that is about to use the engine's torch side calls :func:`load_torchrl` first; after
the first call it costs a lock and a dict lookup.
"""

from __future__ import annotations

import threading

_FIRST_IMPORT = threading.Lock()


def load_torchrl() -> None:
    """Import torchrl (and torch with it) unless done; other threads wait for it meanwhile."""
    with _FIRST_IMPORT:
        import torchrl  # noqa: F401
