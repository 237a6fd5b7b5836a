"""Keeping what the app holds for long out of Python's garbage collections.

A full collection walks every object the collector tracks, with the GIL held: the screen cannot
answer a key meanwhile. With torch loaded and a run shown that was 50-60 ms every few seconds of a
fast run (and ~300 ms for torch's own objects), so what is alive at those points (torch and
torchrl once imported, the screens and the run's view once a run is open) is frozen: later
collections walk only what came after. Objects frozen stay out of reach of the cycle collector
(reference counting still frees them), which costs little here: what is frozen lives as long as
the app.
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Collect what is garbage now, then exempt everything still alive from later collections."""
    gc.collect()
    gc.freeze()
