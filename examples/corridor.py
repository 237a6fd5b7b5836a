"""A small env of your own, trained by tui-rl without registering it anywhere:

    tui-rl train cartpole-ppo --set env.id=examples/corridor.py:Corridor --frames 20000

The agent starts at the left end of a corridor and is paid 1 for reaching the right end, less a
little for every step it takes; ``length`` (an ``env.kwargs`` entry) sets how far that is.
"""

import gymnasium
import numpy as np


class Corridor(gymnasium.Env):
    """Observation: a Dict of ``observation`` [where the agent is, how much time is left], both in
    [0, 1], and ``action_mask``, which actions are legal: at the left end the wall forbids a step
    left (tui-rl's policies then never take it; the mask is no input of their networks).
    Actions: 0 steps left, 1 steps right. An episode ends at the goal or after 4 x length steps."""

    def __init__(self, length: int = 10):
        self.length = length
        self.limit = 4 * length
        self.observation_space = gymnasium.spaces.Dict({
            "observation": gymnasium.spaces.Box(0.0, 1.0, (2,), np.float32),
            "action_mask": gymnasium.spaces.MultiBinary(2),
        })
        self.action_space = gymnasium.spaces.Discrete(2)

    def observe(self):
        return {
            "observation": np.array([self.position / self.length, 1 - self.t / self.limit], dtype=np.float32),
            "action_mask": np.array([self.position > 0, True], dtype=np.int8),
        }

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.position, self.t = 0, 0
        return self.observe(), {}

    def step(self, action):
        self.position = max(0, self.position + (1 if action == 1 else -1))
        self.t += 1
        arrived = self.position >= self.length
        reward = (1.0 if arrived else 0.0) - 0.01
        return self.observe(), reward, arrived, self.t >= self.limit, {}
