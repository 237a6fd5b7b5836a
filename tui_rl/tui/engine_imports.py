"""The first import of torchrl, made once for all of the app's thread workers.

torchrl's first import is not thread-safe: two workers importing it at once (the inspector's live
env and the Setup preview, or, in an app without a warm trainer, the spec probe and the machine
line, say) fail with ``KeyError: 'torchrl'`` or a partially initialised module. Start's checks and
an app's spec probe with a warm trainer never import it here: they run in the trainer process.
Every worker that is about to use the engine's torch side calls :func:`load_torchrl` first; after
the first call it costs a lock and a dict lookup.

torch and torchrl bring some 400,000 objects that live as long as the app: once imported they are
frozen out of garbage collection (see :mod:`tui_rl.tui.long_lived`).
"""

from __future__ import annotations

import threading

from tui_rl.tui.long_lived import freeze_long_lived

_FIRST_IMPORT = threading.Lock()
_loaded = False


def load_torchrl() -> None:
    """Import torchrl (and torch with it) unless done; other threads wait for it meanwhile."""
    global _loaded
    with _FIRST_IMPORT:
        if _loaded:
            return
        import torchrl  # noqa: F401

        freeze_long_lived()
        _loaded = True
