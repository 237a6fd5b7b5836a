"""Hyperparameter search: the study (Optuna, in the runs folder), the search space, the worker
that trains trials through ``run.serve``, and the study as a table.

May import: ``runs`` and ``run`` (trials are runs).
"""
