"""Health alerts: slow trouble a run can recover from, said as :class:`Alert` events naming the
metric, the frame and what to try (NaN / inf end the run instead: ``health.py``). Each alert fires
once per metric and run segment, so a collapsed entropy is one alert, not one per batch.

No torch import: it watches the floats the algorithm already logs.
"""

from __future__ import annotations

import math
import statistics

from tui_rl.config.metrics import ENTROPY, EVAL_RETURN
from tui_rl.config.models import AlertsConfig
from tui_rl.engine.runs.counters import RunCounters
from tui_rl.engine.protocol import Alert

#: batches whose losses set a loss's early level, against which divergence is judged
EARLY_BATCHES = 10
#: losses smaller than this are treated as this much when judging growth (a loss near 0 that doubles is fine)
LOSS_FLOOR = 1e-3


def nan_alert(metric: str, frames: int, message: str) -> Alert:
    return Alert("nan", metric, message, "lower optim.lr, set optim.max_grad_norm, or scale rewards down; "
                 "branch from the last checkpoint (b) with the change", frames=frames)


class HealthWatch:
    """Watches one run's logged values and evaluations for alerts."""

    def __init__(self, config: AlertsConfig) -> None:
        self.config = config
        self.fired: set[tuple[str, str]] = set()
        self.first_entropy: float | None = None
        self.early: dict[str, list[float]] = {}
        self.evals_without_progress = 0
        self.best: float | None = None

    def _once(self, kind: str, metric: str, alert: Alert) -> list[Alert]:
        if (kind, metric) in self.fired:
            return []
        self.fired.add((kind, metric))
        return [alert]

    def after_batch(self, values: dict[str, float], frames: int) -> list[Alert]:
        alerts: list[Alert] = []
        entropy = values.get(ENTROPY.name)
        fraction = self.config.entropy_collapse
        if entropy is not None and math.isfinite(entropy) and fraction > 0:
            if self.first_entropy is None:
                self.first_entropy = abs(entropy)
            elif self.first_entropy > 0 and entropy < fraction * self.first_entropy:
                alerts += self._once("entropy_collapse", ENTROPY.name, Alert(
                    "entropy_collapse", ENTROPY.name,
                    f"entropy fell to {entropy:.3g} at frame {frames} (from {self.first_entropy:.3g}): "
                    "the policy has stopped exploring",
                    "raise algorithm.entropy_coef (live, e), or branch from an earlier checkpoint (b)",
                    frames=frames,
                ))
        factor = self.config.divergence
        for name, value in values.items():
            if not (name.startswith("loss_") or "value" in name) or not math.isfinite(value) or factor <= 0:
                continue
            early = self.early.setdefault(name, [])
            if len(early) < EARLY_BATCHES:
                early.append(abs(value))
                continue
            level = max(statistics.median(early), LOSS_FLOOR)
            if abs(value) > factor * level:
                alerts += self._once("divergence", name, Alert(
                    "divergence", name,
                    f"{name} reached {value:.3g} at frame {frames}, {abs(value) / level:.0f}x its early level {level:.3g}",
                    "lower optim.lr or optim.max_grad_norm (live, e); for Q-values raise the target "
                    "update period or lower algorithm.tau",
                    frames=frames,
                ))
        return alerts

    def after_eval(self, mean: float, counters: RunCounters, target: float | None, frames: int) -> list[Alert]:
        alerts: list[Alert] = []
        if self.best is None or mean > self.best:
            self.best, self.evals_without_progress = mean, 0
        else:
            self.evals_without_progress += 1
        patience = self.config.no_progress_evals
        if patience and self.evals_without_progress >= patience:
            alerts += self._once("no_progress", EVAL_RETURN.name, Alert(
                "no_progress", EVAL_RETURN.name,
                f"no new best evaluation return for {self.evals_without_progress} evaluations "
                f"(best {self.best:.4g}) by frame {frames}",
                "try another optim.lr or exploration setting in a branch (b), or stop the run (x)",
                frames=frames,
            ))
        if target is not None and counters.solved_frames == frames:
            alerts += self._once("target_reached", EVAL_RETURN.name, Alert(
                "target_reached", EVAL_RETURN.name,
                f"evaluation return {mean:.4g} reached the target {target:g} at frame {frames}",
                "keep the checkpoint; `tui-rl train --resume` trains on to the budget",
                frames=frames,
            ))
        return alerts
