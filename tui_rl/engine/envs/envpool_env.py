"""The envpool backend: EnvPool's C++ threads stepping every copy, wrapped by TorchRL's
``MultiThreadedEnvWrapper``, with finished copies reset the way every other TorchRL env is.

TorchRL's wrapper lets EnvPool reset a finished copy on its next step (EnvPool's own auto-reset),
which records a transition from the last frame of an episode to the first of the next. Here a
finished copy is reset at once through TorchRL's partial resets (EnvPool resets the copies it is
asked to), as the Gymnasium path's copies are, so episodes never join. EnvPool's ``lives`` are
kept for TorchRL's ``EndOfLifeTransform``, where it reads the ALE's.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from tensordict import TensorDict, TensorDictBase
from torchrl.data import Categorical, Composite, Unbounded
from torchrl.envs import EndOfLifeTransform, EnvBase, TransformedEnv
from torchrl.envs.common import _EnvWrapper
from torchrl.envs.libs.envpool import MultiThreadedEnvWrapper

from tui_rl.engine.envs.envpool_preprocessing import EnvPoolPlan


class AleLives:
    """What TorchRL's ``EndOfLifeTransform`` reads at ``unwrapped.ale.lives()`` (its default
    ``eol_attribute``, the ALE's own): here every copy's lives, as EnvPool reported them last."""

    def __init__(self, env: EnvPoolEnv) -> None:
        self.env = env

    @property
    def ale(self) -> AleLives:
        return self

    def lives(self) -> torch.Tensor:
        return self.env.lives_left.clone()


class EnvPoolEnv(MultiThreadedEnvWrapper):
    """``num_envs`` copies of an EnvPool task, reset by TorchRL (partial resets). With one copy
    the batch size is ``[]``, as for a Gymnasium env under GymWrapper."""

    def __init__(self, env, **kwargs) -> None:
        # TorchRL's wrapper fixes the batch size at [num_envs] before its specs are made
        self.num_workers = env.config["num_envs"]
        batch_size = torch.Size([] if self.num_workers == 1 else [self.num_workers])
        _EnvWrapper.__init__(self, env=env, batch_size=batch_size, **kwargs)
        self.obs = self.observation_spec.zero()
        self.lives_left = torch.zeros(self.batch_size, dtype=torch.int64)

    def _make_specs(self, env) -> None:
        # TorchRL's reads the spaces under the ``gym`` backend; EnvPool's gymnasium envs have
        # Gymnasium's spaces
        from torchrl.envs.libs.gym import _gym_to_torchrl_spec_transform, set_gym_backend

        def spec(space):
            converted = _gym_to_torchrl_spec_transform(space, device=self.device, categorical_action_encoding=True)
            return converted.expand((*self.batch_size, *converted.shape))

        with set_gym_backend("gymnasium"):
            self.action_spec = spec(env.spec.action_space)
            observation = spec(env.spec.observation_space)
        if not isinstance(observation, Composite):
            observation = Composite(observation=observation, shape=self.batch_size, device=self.device)
        self.observation_spec = observation
        # reward and done [*batch, 1], as GymWrapper gives them
        self.reward_spec = Unbounded(shape=(*self.batch_size, 1), device=self.device)
        flag = Categorical(2, shape=(*self.batch_size, 1), dtype=torch.bool, device=self.device)
        self.done_spec = Composite(done=flag, terminated=flag.clone(), truncated=flag.clone(),
                                   shape=self.batch_size, device=self.device)

    @property
    def unwrapped(self) -> AleLives:
        return AleLives(self)

    def batched(self, data: dict[str, torch.Tensor]) -> TensorDict:
        """EnvPool's arrays (leading dimension: the copies) as a TensorDict of the env's batch."""
        return TensorDict(data, [self.num_workers], device=self.device).reshape(self.batch_size)

    def _note_lives(self, info: dict, workers: np.ndarray | None) -> None:
        lives = info.get("lives")
        if lives is None:
            return
        lives = torch.as_tensor(np.asarray(lives), dtype=torch.int64)
        if workers is None:
            self.lives_left = lives.reshape(self.batch_size)
        else:
            self.lives_left.view(-1)[torch.as_tensor(workers)] = lives

    def _reset(self, tensordict: TensorDictBase | None) -> TensorDictBase:
        mask = tensordict.get("_reset", None) if tensordict is not None else None
        workers = None if mask is None or self.num_workers == 1 else np.where(mask.reshape(-1).cpu().numpy())[0]
        observation, info = self._env.reset() if workers is None else self._env.reset(workers)
        self._note_lives(info, workers)
        if workers is None:
            self.obs = self.batched(observations(observation))
        else:
            fresh = TensorDict(observations(observation), [len(workers)], device=self.device)
            self.obs[torch.as_tensor(workers)] = fresh
        self.is_closed = False
        out = self.obs.clone(False)
        out.update(self.full_done_spec.zero())
        return out

    @torch.no_grad()
    def _step(self, tensordict: TensorDictBase) -> TensorDictBase:
        action = tensordict.get(self.action_key).to("cpu").reshape(self.num_workers, *self.action_spec_unbatched.shape)
        observation, reward, terminated, truncated, info = self._env.step(action.numpy())
        self._note_lives(info, None)
        out = observations(observation)
        terminated, truncated = torch.as_tensor(terminated)[:, None], torch.as_tensor(truncated)[:, None]
        out.update(reward=torch.as_tensor(reward, dtype=torch.float32)[:, None], terminated=terminated,
                   truncated=truncated, done=terminated | truncated)
        self.obs = self.batched(out)
        return self.obs

    # TorchRL's own step-and-reset: finished copies are reset through ``_reset`` at once
    step_and_maybe_reset = EnvBase.step_and_maybe_reset


class CopiesEndOfLife(EndOfLifeTransform):
    """TorchRL's EndOfLifeTransform on several copies at once: its reset writes the flags as one
    expanded ``False``, which a collector cannot write into in place; here each copy has its own."""

    def _reset(self, tensordict: TensorDictBase, tensordict_reset: TensorDictBase) -> TensorDictBase:
        tensordict_reset = super()._reset(tensordict, tensordict_reset)
        return tensordict_reset.set(self.eol_key, tensordict_reset.get(self.eol_key).clone())

    def _get_lives(self) -> torch.Tensor:
        # TorchRL warns on every env that is not a GymWrapper, at every step; this one's lives are
        # the ALE's, as AleLives hands them over
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The base_env is not a gym env", category=UserWarning)
            return super()._get_lives()


def observations(observation: np.ndarray | dict) -> dict[str, torch.Tensor]:
    """EnvPool's observation (an array, or a dict of them) by key, as TorchRL's wrapper names it."""
    if isinstance(observation, dict):
        return {key: torch.as_tensor(value) for key, value in observation.items()}
    return {"observation": torch.as_tensor(observation)}


def make_envpool_env(plan: EnvPoolPlan, num_envs: int, seed: int, device: str | torch.device) -> TransformedEnv:
    """The EnvPool env of ``plan`` with ``num_envs`` copies seeded from ``seed`` (EnvPool seeds
    copy i with seed + i, once, when it is made)."""
    import envpool

    pool = envpool.make(plan.task, env_type="gymnasium", num_envs=num_envs, seed=seed, **plan.settings)
    return TransformedEnv(EnvPoolEnv(pool, device=device))
