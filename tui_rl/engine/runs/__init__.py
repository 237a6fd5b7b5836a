"""The run folder on disk: reading run folders and creating one (``folder``), the record that writes
run.json, events and the trainer log (``record``), counters, who owns a run (``liveness``: an flock
on ``run.lock``), checkpoints, typed JSON, lineage, diff, the Runs filter, statistics, seed groups,
runs of other tools (TensorBoard, W&B offline) and the line that sets a run up again.

Torch-free but for ``checkpoints``, which loads tensors with ``weights_only``.

May import: ``tui_rl.config`` and the engine's top-level modules (``protocol``, ``terminal_text``,
...); no other engine package.
"""
