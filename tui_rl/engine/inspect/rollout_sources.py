"""Where the inspector's rollouts come from: the run's live trainer (its latest episode, a replay
buffer sample), an evaluation episode played here, a saved rollout, and a live env with the
run's freshest weights.

The trainer is asked over one connection per request; its rollouts arrive with the policy's
outputs already added (see :func:`~tui_rl.engine.policy.outputs.with_policy_outputs`), and only
a rollout without them is completed here, with the trainer's weights fetched over that same
connection.
"""

from __future__ import annotations

from pathlib import Path

from tensordict import TensorDictBase

from tui_rl.config.models import RunConfig
from tui_rl.engine.envs.making import make_env
from tui_rl.engine.inspect.live_env import LiveEnvSession
from tui_rl.engine.policy.outputs import POLICY_KEY, missing_inputs, with_policy_outputs
from tui_rl.engine.policy.playback import MAX_RECORDED_STEPS, episode_return, was_cut
from tui_rl.engine.policy.weights import Weights, WeightsError, build_policy

#: the sources :func:`load_source` knows; ``preview`` (the setup's) is held by the app itself
SOURCES = ("latest", "replay", "eval", "saved")


class SourceError(ValueError):
    """A rollout source that has nothing to give; the message says why and what to do."""


def run_weights(run_dir: Path | None, timeout: float = 30.0) -> Weights:
    """The freshest policy weights of a run: the live trainer's (GetWeights, answered between two
    batches without pausing), else the run folder itself (its newest checkpoint); None without a run."""
    from tui_rl.engine.channel.handle import RunHandle, RunNotLive

    if run_dir is None:
        return None
    with RunHandle.attach(run_dir) as handle:
        if handle.is_live:
            try:
                return handle.weights(timeout)
            except (RunNotLive, TimeoutError):
                pass  # the trainer went away meanwhile: its checkpoint is the next best
    return Path(run_dir)


def trainer_rollout(run_dir: Path | None, source: str, timeout: float = 60.0) -> tuple[TensorDictBase, Weights]:
    """A rollout from the run's live trainer (its ``latest`` episode or a ``replay`` sample), and
    the weights to complete it with when it came without the policy's outputs (else None)."""
    from tui_rl.engine.channel.handle import RunHandle, RunNotLive

    if run_dir is None:
        raise SourceError("no run: start one (s) or attach one in Runs (3) to see its rollouts")
    with RunHandle.attach(run_dir) as handle:
        if not handle.is_live:
            raise SourceError(f"run {Path(run_dir).name} has no trainer running; open a saved rollout instead")
        try:
            rollout = handle.snapshot(source, timeout)
            if rollout is None:
                what = "finished episode" if source == "latest" else "replay buffer to sample"
                raise SourceError(f"the trainer has no {what} yet; try again in a moment")
            weights = None if POLICY_KEY in rollout.keys() else handle.weights(timeout)
        except (RunNotLive, TimeoutError) as exc:
            raise SourceError(str(exc)) from None
    return as_steps(rollout), weights


def completed(rollout: TensorDictBase, config: RunConfig, weights: Weights) -> tuple[TensorDictBase, str]:
    """``rollout`` with the policy's outputs (built here from ``config`` and ``weights`` only when
    it came without them), and a note for its description: empty, or why it has none."""
    if POLICY_KEY in rollout.keys():
        return rollout, ""
    env = make_env(config, num_envs=1)
    try:
        algorithm, _ = build_policy(config, env, weights)
    except WeightsError as exc:
        return rollout, f" (no policy outputs: {exc})"
    finally:
        env.close()
    missing = missing_inputs(algorithm.eval_policy, rollout)
    if missing:
        return rollout, f" (no policy outputs: the rollout has no {', '.join(missing)} for the policy to read)"
    return with_policy_outputs(rollout, algorithm, deterministic=config.eval.deterministic), ""


def as_steps(rollout: TensorDictBase) -> TensorDictBase:
    """``rollout`` with one batch dimension, the steps (copies of a vector env one after another)."""
    if rollout.ndim == 0:
        return rollout.unsqueeze(0)
    return rollout.reshape(-1) if rollout.ndim > 1 else rollout


def live_session_for(config: RunConfig, run_dir: Path | None) -> LiveEnvSession:
    """A live env with ``config`` (the setup's) and the run's freshest weights. When those do not
    fit (the setup's network changed since the run started), the run's own config is used."""
    from tui_rl.engine.runs.folder import read_config

    weights = run_weights(run_dir)
    try:
        return LiveEnvSession(config, weights)
    except WeightsError:
        if run_dir is None:
            raise
    session = LiveEnvSession(read_config(run_dir), weights)
    session.weights_note += " (with the run's config: the setup's network differs)"
    return session


def evaluation_episode(config: RunConfig, run_dir: Path | None) -> tuple[TensorDictBase, str]:
    """An episode of the run's freshest policy played here, with frames; and its description."""
    session = live_session_for(config, run_dir)
    try:
        rollout = session.play_episode(MAX_RECORDED_STEPS)
    finally:
        session.close()
    cut = f", cut at {MAX_RECORDED_STEPS:,} steps" if was_cut(rollout, MAX_RECORDED_STEPS) else ""
    return rollout, f"evaluation episode, {returns_text(rollout)}{cut} ({session.weights_note})"


def returns_text(rollout: TensorDictBase) -> str:
    """The episode's return, or in a multi-agent env each group's (its agents' mean)."""
    from tui_rl.engine.envs.multi_agent import returning_groups

    groups = returning_groups(rollout.get("next"))
    if not groups:
        return f"return {episode_return(rollout):g}"
    return "returns " + ", ".join(f"{group} {rollout.get(('next', *key))[-1].float().mean().item():g}"
                                  for group, key in groups.items())


def load_source(kind: str, config: RunConfig, run_dir: Path | None, path: Path | None = None) -> tuple[TensorDictBase, str]:
    """A rollout to inspect and a line describing it. ``kind``: ``latest`` (the trainer's latest
    episode) or ``replay`` (a replay buffer sample), both with the policy's outputs; ``eval`` (an
    episode of the current policy played here, with frames); ``saved`` (``path``)."""
    from tui_rl.engine.inspect.rollouts import load_rollout
    from tui_rl.engine.runs.folder import read_config

    if kind == "saved":
        rollout, skipped = load_rollout(path)
        note = f" (skipped, not tensors: {', '.join(skipped)})" if skipped else ""
        return as_steps(rollout), f"saved rollout {path.name}{note}"
    if kind not in SOURCES:
        raise SourceError(f"unknown rollout source {kind!r}")
    run_config = read_config(run_dir) if run_dir is not None else config
    if kind == "eval":
        return evaluation_episode(run_config, run_dir)
    rollout, weights = trainer_rollout(run_dir, kind)
    rollout, note = completed(rollout, run_config, weights)
    description = "latest episode from the trainer" if kind == "latest" else "replay buffer sample of transitions"
    return rollout, description + note
