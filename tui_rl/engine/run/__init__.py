"""The trainer process: ``serve`` runs a run behind its socket, ``trainer`` drives the collector and
the algorithm, and the parts around it (collectors, checkpoint policy, live edits and undo, alerts,
health, timing, snapshots, loggers, stop signals, preflight checks, branching, seed runs, workers,
the machine's resources).

May import: every engine package below it (``runs``, ``envs``, ``networks``, ``algorithms``,
``policy``, ``channel``), never ``inspect`` or ``search``.
"""
