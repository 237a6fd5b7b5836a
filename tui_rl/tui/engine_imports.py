"""The first import of torchrl, made once for all of the app's thread workers.

torchrl's first import is not thread-safe: two workers importing it at once (the spec probe and
Start's preflight check, say) fail with ``KeyError: 'torchrl'`` or a partially initialised module.
Every worker that is about to use the engine's torch side calls :func:`load_torchrl` first; after
the first call it costs a lock and a dict lookup.

torch and torchrl bring some 400,000 objects that live as long as the app. Python's full garbage
collection walks every object it tracks, which then froze the screen for about 300 ms every so
often (a key press or a step in the inspector answered that late), so they are moved out of its
sight with ``gc.freeze()`` once imported.
"""

from __future__ import annotations

import gc
import threading

_FIRST_IMPORT = threading.Lock()
_loaded = False


def load_torchrl() -> None:
    """Import torchrl (and torch with it) unless done; other threads wait for it meanwhile."""
    global _loaded
    with _FIRST_IMPORT:
        if _loaded:
            return
        import torchrl  # noqa: F401

        gc.freeze()
        _loaded = True
