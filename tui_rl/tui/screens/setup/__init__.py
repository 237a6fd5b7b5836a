"""The Setup screen: env, transforms, policy, algorithm and hyperparameters, and its field helpers."""
