"""Looking at a run from outside: the live env, rollout sources and saved rollouts, evaluation,
export to TorchScript / ONNX, and video.

May import: ``runs``, ``envs``, ``networks``, ``algorithms``, ``policy`` and ``channel``.
"""
