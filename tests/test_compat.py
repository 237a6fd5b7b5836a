"""The places tui-rl reaches past TorchRL's public API (tui_rl/engine/compat.py): when TorchRL
changes one, these fail and name what moved."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
import torch
from tensordict import TensorDict

from tui_rl.config import RunConfig, apply_overrides
from tui_rl.engine.algorithms.replay import make_replay_buffer
from tui_rl.engine.compat import (
    SAMPLER_TREES,
    gym_env_of,
    gym_space_spec,
    load_replay_state_dict,
    replay_state_dict,
    storage_bytes,
    storage_contents,
    target_source_pairs,
)


def buffer(prioritized: bool):
    config = apply_overrides(RunConfig(), [f"replay_buffer.sampler={'prioritized' if prioritized else 'random'}", "replay_buffer.size=64"])
    return make_replay_buffer(config.replay_buffer, torch.device("cpu"))


def transitions(count: int) -> TensorDict:
    return TensorDict(
        {"observation": torch.randn(count, 4), "td_error": torch.rand(count), "next": {"observation": torch.randn(count, 4)}},
        [count],
    )


def test_storage_bytes_reads_the_size_of_the_storage():
    replay = buffer(prioritized=False)
    assert storage_bytes(replay) is None, "TorchRL's empty LazyTensorStorage now has data before its first write"
    replay.extend(transitions(10))
    expected = 64 * ((4 + 1 + 4) * 4 + 8)  # the whole capacity: float32 fields and the buffer's int64 index
    assert storage_bytes(replay) == expected, (
        "TorchRL's tensor storage no longer keeps its TensorDict in `storage._storage` with `bytes()`: "
        "update tui_rl/engine/compat.py storage_bytes"
    )


def test_storage_contents_is_the_memmap_storages_own_preallocated_tensordict(tmp_path):
    config = apply_overrides(RunConfig(), ["replay_buffer.storage=memmap", "replay_buffer.size=64"])
    replay = make_replay_buffer(config.replay_buffer, torch.device("cpu"), tmp_path)
    assert storage_contents(replay) is None, "TorchRL's empty LazyMemmapStorage now has data before its first write"
    data = transitions(10)
    replay.extend(data)
    contents = storage_contents(replay)
    assert contents is not None and contents.is_memmap() and contents.shape == (64,), (
        "TorchRL's memmap storage no longer keeps its files as a TensorDict in `storage._storage`: "
        "update tui_rl/engine/compat.py storage_contents (checkpoints of memmap buffers copy it)"
    )
    assert torch.equal(contents[:10]["observation"], data["observation"])


@pytest.mark.parametrize("prioritized", [False, True])
def test_a_replay_buffer_state_round_trips_through_weights_only_torch_load(prioritized):
    replay = buffer(prioritized)
    replay.extend(transitions(10))
    if prioritized:
        sample = replay.sample(6)
        sample["td_error"] = torch.arange(6, dtype=torch.float32) + 1
        replay.update_tensordict_priority(sample)
    state = replay_state_dict(replay)
    if prioritized:
        assert set(SAMPLER_TREES) <= set(state["_sampler"]), (
            "TorchRL's PrioritizedSampler.state_dict no longer names its trees "
            f"{SAMPLER_TREES}: update tui_rl/engine/compat.py"
        )
    file = io.BytesIO()
    torch.save(state, file)
    file.seek(0)
    loaded = torch.load(file, weights_only=True)  # raises if anything in it needs pickle

    copy = buffer(prioritized)
    load_replay_state_dict(copy, loaded)
    assert len(copy) == 10
    assert torch.equal(copy.storage[:10]["observation"], replay.storage[:10]["observation"])
    if prioritized:
        for key in SAMPLER_TREES:
            assert torch.equal(replay_state_dict(copy)["_sampler"][key], state["_sampler"][key]), key
    assert copy.sample(4).batch_size == (4,)


def test_target_source_pairs_reads_the_updaters_own_pairing():
    from torchrl.objectives import SoftUpdate

    from tui_rl.engine.algorithms import build_algorithm
    from tui_rl.engine.envs.making import make_env

    config = RunConfig()
    env = make_env(config)
    algorithm = build_algorithm(config, env, "cpu")
    env.close()
    targets, sources = target_source_pairs(SoftUpdate(algorithm.loss_module, eps=0.5))
    params = list(algorithm.loss_module.value_network_params.flatten_keys().values())
    assert len(targets) == len(sources) == len(params) > 0, "TorchRL's updater no longer pairs _sources/_targets"
    for target, source in zip(targets, sources):
        assert target.shape == source.shape and target.data_ptr() != source.data_ptr()


def test_gym_env_of_reaches_the_gymnasium_env_under_the_wrapper():
    import gymnasium

    from tui_rl.engine.envs.making import make_env

    env = make_env(apply_overrides(RunConfig(), ["env.backend=gymnasium"]))
    try:
        assert isinstance(gym_env_of(env), gymnasium.Env), "TorchRL's GymWrapper no longer keeps the env in _env"
    finally:
        env.close()


def test_unchecked_tensordict_holds_its_entries_as_given():
    from tui_rl.engine.compat import unchecked_tensordict

    value = torch.zeros(4, 1)
    data = unchecked_tensordict({"reward": value}, torch.Size([4]), torch.device("cpu"))
    assert data.batch_size == (4,) and data.device == torch.device("cpu")
    assert data.get("reward") is value, "TensorDict._new_unsafe no longer takes a dict of tensors as they are"


#: a fresh interpreter builds its first Gymnasium env, closes and drops it, and says whether it lived on
FIRST_ENV = """
import gc, weakref
from tui_rl.config import RunConfig, apply_overrides
from tui_rl.engine.compat import gym_env_of
from tui_rl.engine.envs.making import make_env
env = make_env(apply_overrides(RunConfig(), ["env.backend=gymnasium"]))
gym_env = weakref.ref(gym_env_of(env))
env.close()
del env
gc.collect()
print("alive" if gym_env() is not None else "freed")
"""


def test_the_first_env_a_process_builds_is_freed_once_dropped():
    # TorchRL's kept ImportError, first raised inside that build, held its frames (and the env) to
    # exit; an Atari env's emulator with them. Once per process, hence the fresh interpreter.
    done = subprocess.run([sys.executable, "-c", FIRST_ENV], capture_output=True, text=True, timeout=240)
    assert done.stdout.split()[-1:] == ["freed"], done.stdout + done.stderr


def test_gym_space_spec_converts_one_space_as_the_wrapper_does():
    import gymnasium
    from torchrl.data import Binary, MultiCategorical

    parts = gym_space_spec(gymnasium.spaces.MultiDiscrete([3, 2]), "cpu")
    assert isinstance(parts, MultiCategorical) and parts.nvec.tolist() == [3, 2]
    assert isinstance(gym_space_spec(gymnasium.spaces.MultiBinary(4), "cpu"), Binary)
