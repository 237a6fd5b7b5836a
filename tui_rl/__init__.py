"""tui-rl: a terminal workbench for reinforcement learning, built on TorchRL."""

__version__ = "0.1.0"
