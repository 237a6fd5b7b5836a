"""What a warm trainer (``engine/run/warm.py``) answers while it waits for its run: the checks
before a run, and the specs of an env and the machine's GPUs for the Setup screen. Both import torch and build TorchRL
parts, so the app asks this process rather than loading them itself.

A request is a JSON object: ``{"check": CONFIG, "runs_dir": PATH}`` runs
:func:`tui_rl.engine.run.preflight.check_buildable` (the dry run included) and answers
``{"ok": true}``, ``{"refused": TEXT, "errors": [[FIELD, MESSAGE], ...]}`` (a ConfigError, field by
field) or ``{"failed": TEXT}`` (anything else it raised); ``{"probe": CONFIG}`` answers a
:class:`tui_rl.engine.envs.spec_probe.SpecProbe` as JSON; ``{"machine": RAY_ADDRESS}`` the Setup
screen's line on this machine (its GPUs need torch), as ``{"machine": TEXT}``. Nothing here raises.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tui_rl.config import ConfigError, validate


def answer(request: dict[str, Any]) -> dict[str, Any]:
    try:
        if "check" in request:
            from tui_rl.engine.run.preflight import check_buildable

            check_buildable(validate(request["check"]), Path(request["runs_dir"]))
            return {"ok": True}
        if "probe" in request:
            from tui_rl.engine.envs.spec_probe import probe_specs

            return probe_specs(validate(request["probe"])).to_json()
        if "machine" in request:
            from tui_rl.engine.run.machine import describe

            return {"machine": describe(str(request["machine"]))}
    except ConfigError as exc:
        return {"refused": str(exc), "errors": [[error.path, error.message] for error in exc.errors]}
    except Exception as exc:  # a check that itself broke, a request it cannot read: said, never raised
        return {"failed": f"{type(exc).__name__}: {exc}"}
    return {"failed": f"not a request: {sorted(request)}"}
