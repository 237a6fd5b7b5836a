"""A run's policy outside its trainer: weights loaded from a checkpoint into the run's networks,
played in an env, and what it outputs at each step.

May import: ``config``, the top-level modules, ``runs``, ``envs``, ``networks`` and ``algorithms``.
"""
