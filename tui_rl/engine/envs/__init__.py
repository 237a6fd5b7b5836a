"""Envs as a run makes them: Gymnasium ids and their families, TorchRL transforms and their
parameters, image transforms, what an observation looks like as an image or a frame, and the batched
torch envs (``batched/``).

May import: ``tui_rl.config``, the engine's top-level modules and ``networks`` (a memory core's
primers go on the env). Never ``runs``, ``run`` or anything above.
"""
