"""Everything TorchRL: envs, algorithms, the training loop, run folders and the trainer process.

Never imports textual. Importing this package itself loads nothing heavy: the app imports the
protocol, run-folder and handle modules before its first paint, and those must not load torch.
"""
