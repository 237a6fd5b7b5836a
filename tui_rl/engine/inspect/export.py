"""A run's deterministic policy as a file that loads without tui-rl: TorchScript (``torch.jit.load``),
ONNX (``onnxruntime``) or a plain state dict (``torch.load(weights_only=True)``).

The TorchScript and ONNX files map one observation, as the run's transforms hand it to the policy,
to one action, as the env takes it (an index or a one-hot vector for discrete actions, the scaled
vector for continuous ones). A Dict read key by key is one input per entry (named by its dotted
key), and an env's action mask one more input (``action_mask``, True where legal) that the file
applies as the policy does. The policy is traced with TorchRL's deterministic exploration type:
greedy Q-values, the mode of a distribution.
"""

from __future__ import annotations

import copy
import os
import stat
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from tensordict import NestedKey, TensorDict
from torchrl.envs.utils import ExplorationType, set_exploration_type
from torchrl.modules import TanhNormal

from tui_rl.config import ConfigError
from tui_rl.engine.file_formats import EXPORT_FORMATS, EXPORT_SUFFIXES
from tui_rl.engine.networks.action_distributions import ACTION_MASK_KEY
from tui_rl.engine.networks.encoders import dotted
from tui_rl.engine.policy.weights import load_run_policy
from tui_rl.engine.runs.folder import is_run_dir

#: the ONNX graph's output name; its inputs are named for the keys the policy reads
ONNX_OUTPUT = "action"


class ExportError(ConfigError):
    """A policy that cannot be exported; the message says why and what to do."""


@dataclass
class Exported:
    """What was written where, from which checkpoint, and what the file takes: each input's
    (dotted) key, shape and dtype, in the order the exported module takes them."""

    path: Path
    export_format: str
    checkpoint_frames: int
    inputs: dict[str, tuple[tuple[int, ...], str]]

    def summary(self) -> str:
        names = ", ".join(self.inputs)
        feed = ", ".join(f"'{name}': {name}" for name in self.inputs)
        how = {
            "torchscript": f"torch.jit.load(path)({names}) -> action",
            "onnx": f"onnxruntime.InferenceSession(path).run(None, {{{feed}}})",
            "state-dict": "torch.load(path, weights_only=True): the policy's parameters",
        }[self.export_format]
        shown = ", ".join(f"{name} {list(shape)} {dtype}" + (" (True: legal)" if name == ACTION_MASK_KEY else "")
                          for name, (shape, dtype) in self.inputs.items())
        return (
            f"wrote {self.path} ({self.export_format}, checkpoint at {self.checkpoint_frames:,} frames)\n"
            f"input{'s' if len(self.inputs) > 1 else ''}: {shown}; load it with {how}"
        )


def deterministic_action(policy: torch.nn.Module, in_keys: list[NestedKey]):
    """A TorchRL policy as a plain function, one tensor per key it reads in (each observation
    entry, the action mask) and the action out; its weights frozen, so a trace keeps them as
    constants. (Tracing the module tree itself trips over tensordict's deprecated class attributes.)"""
    policy = copy.deepcopy(policy).requires_grad_(False)
    for module in policy.modules():  # TanhNormal's safe tanh is an autograd Function: not traceable
        if getattr(module, "distribution_class", None) is TanhNormal:
            module.distribution_kwargs = {**module.distribution_kwargs, "safe_tanh": False}

    def act(*inputs: torch.Tensor) -> torch.Tensor:
        with set_exploration_type(ExplorationType.DETERMINISTIC):
            return policy(TensorDict(dict(zip(in_keys, inputs)))).get("action")

    return act


def policy_inputs(policy, config) -> list[NestedKey]:
    """The keys the policy reads, each an input of the file: the observation (or each entry of a
    Dict read key by key) and the action mask, where the env gives one. A policy with a memory core
    also reads its hidden state, carried from step to step: no file of one step's inputs acts as it does."""
    if config.network.has_memory:
        raise ExportError(
            f"export takes a policy that acts on one step's observation; this one has a memory core "
            f"(network.recurrent = {config.network.recurrent!r}) whose hidden state is carried between "
            "steps; train without it to export, or use --format state-dict for its parameters"
        )
    return list(policy.in_keys)


def example_inputs(env, keys: list[NestedKey]) -> list[torch.Tensor]:
    """One real observation of ``env`` (its reset), by key, floats as float32: what the trace runs on."""
    first = env.reset()
    examples = [first.get(key).reshape(env.observation_spec_unbatched[key].shape) for key in keys]
    return [example.float() if example.is_floating_point() else example for example in examples]


def export_policy(run_dir: Path, export_format: str, output: Path | None = None,
                  checkpoint: int | None = None, force: bool = False) -> Exported:
    """Write the run's deterministic policy as ``export_format`` to ``output`` (default:
    :func:`default_output`), replacing an existing regular file only with ``force``; returns
    what was written."""
    if export_format not in EXPORT_FORMATS:
        raise ExportError(f"--format: {export_format!r} is not one of {', '.join(EXPORT_FORMATS)}")
    if export_format == "onnx":
        from tui_rl.engine.extras import require

        require("onnx", "--format onnx", extra="export", instead="or another --format")
    run_dir = Path(run_dir)
    if output is not None:  # a bad path is refused before the policy is loaded
        check_target(Path(output), force)
    run = load_run_policy(run_dir, checkpoint, purpose="export")
    try:
        policy = run.policy
        keys = policy_inputs(policy, run.config)
        examples = example_inputs(run.env, keys)
    finally:
        run.close()
    frames = run.frames
    path = Path(output) if output is not None else default_output(run_dir, frames, export_format)
    check_target(path, force)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # a fresh temp file (O_EXCL): a planted name beside the target is never written through
        handle, temp = tempfile.mkstemp(prefix=f".{path.name[:200]}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ExportError(f"output file {path}: cannot write there ({exc.strerror or exc})") from None
    os.close(handle)
    try:
        write(export_format, policy, keys, examples, Path(temp))
        os.replace(temp, path)
    except OSError as exc:  # disk full, the folder made read-only meanwhile
        raise ExportError(f"output file {path}: cannot write it ({exc.strerror or exc})") from None
    finally:
        Path(temp).unlink(missing_ok=True)
    inputs = {dotted(key): (tuple(example.shape), str(example.dtype).removeprefix("torch."))
              for key, example in zip(keys, examples)}
    return Exported(path, export_format, frames, inputs)


def check_target(path: Path, force: bool) -> None:
    """Refuse an output path that names no file, is not a regular file (a folder, a symbolic
    link, a device), lies inside a run folder (whose files only the run's own writers write,
    ``runs/record.py`` and the checkpoint store), exists without ``force``, or sits in a folder that cannot be written."""
    where = f"output file {path}"
    if path.name in ("", ".", ".."):
        raise ExportError(f"output file {str(path)!r}: names a folder, not a file")
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # a name too long, a part of the path that is a file
        raise ExportError(f"{where}: {exc.strerror or exc}") from None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise ExportError(f"{where}: is a folder; name a file in it")
        if stat.S_ISLNK(mode):
            raise ExportError(f"{where}: is a symbolic link; tui-rl does not write through links")
        if not stat.S_ISREG(mode):
            raise ExportError(f"{where}: is not a regular file (a device, pipe or socket)")
    folder = path.parent.resolve()
    for ancestor in (folder, *folder.parents):
        if is_run_dir(ancestor):
            raise ExportError(f"{where}: lies inside the run folder {ancestor}, whose files only "
                              "tui-rl's run writes; choose a path outside it")
    if mode is not None and not force:
        raise ExportError(f"{where}: already exists (overwrite it with --force, or Overwrite in the app)")
    existing = next((part for part in (folder, *folder.parents) if part.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise ExportError(f"{where}: cannot write in {existing} (read-only or not yours)")


def default_output(run_dir: Path, frames: int, export_format: str) -> Path:
    """``<run name>-<frames><suffix>`` in the working directory: outside the run folder, whose
    files only the run's own writers write."""
    return Path(f"{Path(run_dir).name}-{frames}{EXPORT_SUFFIXES[export_format]}")


def write(export_format: str, policy, keys: list[NestedKey], examples: list[torch.Tensor], path: Path) -> None:
    if export_format == "state-dict":
        torch.save({key: value.detach().clone() for key, value in policy.state_dict().items()}, path)
        return
    with torch.no_grad(), warnings.catch_warnings():
        # the bounds checks and shapes TorchRL reads while tracing are fixed for one policy
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", "no signature found")  # the ONNX exporter, of a traced function
        traced = torch.jit.trace(deterministic_action(policy, keys), tuple(examples), check_trace=False)
        if export_format == "torchscript":
            traced.save(str(path))
        else:  # TorchScript-based exporter: the dynamo one does not follow TensorDict
            torch.onnx.export(traced, tuple(examples), str(path), input_names=[dotted(key) for key in keys],
                              output_names=[ONNX_OUTPUT], dynamo=False)
