"""The ``tui-rl`` command.

    tui-rl [PRESET|FILE|RUN]          open the app (on a preset, a TOML file or a run folder)
    tui-rl train PRESET|FILE [...]    train headless with a progress bar
    tui-rl train --resume RUN         go on from a run's last checkpoint
    tui-rl train PRESET --seeds 0 1 2 a seed group: one run per seed, then their returns with intervals
    tui-rl branch RUN [--set K=V]     a new run from RUN's checkpoint with edited fields
    tui-rl presets [show NAME | validate FILE]
    tui-rl runs [--json] / tui-rl runs show RUN [--json]
    tui-rl attach RUN                 open the app on a run
    tui-rl eval RUN --episodes N      evaluate a run's policy (--record: an MP4, or --format gif)
    tui-rl export RUN --format F      the deterministic policy as TorchScript, ONNX or a state dict
    tui-rl serve [PRESET]             the app in a web browser (textual-serve)
    tui-rl search PRESET --trials N   tune hyperparameters with Optuna (each trial a run;
                                      --seeds-per-trial K: each trial's value is K seeds' mean)
    tui-rl --version

Exit codes: 0 done; 1 the run (or an evaluation) failed, the reason is printed; 2 bad config or
arguments, or a run folder that cannot be read (the message names the field or the file). Torch is
imported only by commands that train, evaluate or check a config, so ``--help`` and ``runs``
answer at once.

One module per command: ``entry`` (dispatch and exit codes), ``parsers`` (with ``options``, the
arguments several commands share), ``app``, ``train``,
``progress`` (the headless progress bar), ``runs``, ``presets``, ``evaluate``, ``export``, ``serve``,
``branch``, ``seeds`` (``train --seeds``), ``search``.
"""

from tui_rl.cli.entry import main

__all__ = ["main"]
