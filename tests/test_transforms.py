"""The transform registry: every entry builds, params are checked, ObservationNorm measures stats."""

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.wrappers import DtypeObservation

from tui_rl.config import ConfigError, TransformConfig, validate
from tui_rl.engine.envs import make_env
from tui_rl.engine.transforms import TRANSFORMS, build_transform, check_params, check_transforms


def test_registry_has_the_common_transforms_with_described_params():
    for name in ("StepCounter", "RewardSum", "DoubleToFloat", "ObservationNorm", "RewardScaling",
                 "CatFrames", "InitTracker", "FrameSkipTransform", "ClipTransform",
                 "RewardClipping", "VecNorm"):
        spec = TRANSFORMS[name]
        assert spec.description
        assert all(param.description for param in spec.params), name


def pendulum_float64(**kwargs):
    """Pendulum with float64 observations, as many Gymnasium envs (MuJoCo's) give them."""
    return DtypeObservation(gymnasium.make("Pendulum-v1", **kwargs), np.float64)


gymnasium.register("TuiRlTest/PendulumFloat64-v0", entry_point=pendulum_float64)

STEPS = 40


def zero_action_rollout(env_id: str, transforms: list, steps: int = STEPS):
    """A seeded episode start with the action held at zero: the same trajectory on every build."""
    # Gymnasium's env: the assertions below were read off its seed-3 trajectory
    env = make_env(validate({"env": {"id": env_id, "seed": 3, "backend": "gymnasium"}, "transforms": transforms}))
    try:
        return env.rollout(steps, lambda td: td.set("action", env.action_spec.zero()), break_when_any_done=False)
    finally:
        env.close()


def observations(rollout):
    return rollout["next", "observation"]


def rewards(rollout):
    return rollout["next", "reward"]


def step_counter(out, plain):
    # Each episode is cut after 5 steps, and the rollout goes on in a fresh one.
    assert out["next", "step_count"].squeeze(-1).tolist()[:10] == [1, 2, 3, 4, 5] * 2
    assert out["next", "truncated"].squeeze(-1).nonzero().squeeze(-1).tolist()[:2] == [4, 9]


def reward_sum(out, plain):
    assert torch.allclose(out["next", "return_so_far"], rewards(plain).cumsum(0))


def double_to_float(out, plain):
    assert observations(plain).dtype == torch.float64
    assert observations(out).dtype == torch.float32
    assert torch.allclose(observations(out), observations(plain).float())


def observation_norm(out, plain):
    assert torch.allclose(observations(out), (observations(plain) - 1.0) / 2.0)


def reward_scaling(out, plain):
    assert torch.allclose(rewards(out), rewards(plain) * 0.01 + 1.0)


def cat_frames(out, plain):
    frames = observations(plain)
    assert observations(out).shape[-1] == 3 * frames.shape[-1]
    assert torch.equal(observations(out)[10], torch.cat([frames[8], frames[9], frames[10]]))


def init_tracker(out, plain):
    assert out["is_init"][0].item() and not out["is_init"][1:].any()


def frame_skip(out, plain):
    assert torch.allclose(observations(out), observations(plain)[1::2])
    assert torch.allclose(rewards(out), rewards(plain)[0::2] + rewards(plain)[1::2])


def clip_transform(out, plain):
    assert observations(plain).abs().max() > 0.5
    assert torch.equal(observations(out), observations(plain).clamp(-0.5, 0.5))


def reward_clipping(out, plain):
    assert rewards(plain).min() < -1
    assert torch.equal(rewards(out), rewards(plain).clamp(-1.0, 1.0))


def vec_norm(out, plain):
    # Running statistics: the angular velocity (raw spread about 3) comes out with a spread near 1.
    assert observations(plain)[:, 2].std() > 2
    assert 0.3 < observations(out)[:, 2].std() < 1.5
    assert not torch.allclose(observations(out), observations(plain))


#: transform -> (env, params, what the transformed rollout shows against the plain one)
EFFECTS = {
    "StepCounter": ("Pendulum-v1", {"max_steps": 5}, step_counter),
    "RewardSum": ("Pendulum-v1", {"out_keys": ["return_so_far"]}, reward_sum),
    "DoubleToFloat": ("TuiRlTest/PendulumFloat64-v0", {}, double_to_float),
    "ObservationNorm": ("Pendulum-v1", {"loc": 1.0, "scale": 2.0}, observation_norm),
    "RewardScaling": ("Pendulum-v1", {"loc": 1.0, "scale": 0.01}, reward_scaling),
    "CatFrames": ("Pendulum-v1", {"N": 3}, cat_frames),
    "InitTracker": ("Pendulum-v1", {}, init_tracker),
    "FrameSkipTransform": ("Pendulum-v1", {"frame_skip": 2}, frame_skip),
    "ClipTransform": ("Pendulum-v1", {"low": -0.5, "high": 0.5}, clip_transform),
    "RewardClipping": ("Pendulum-v1", {"clamp_min": -1.0, "clamp_max": 1.0}, reward_clipping),
    "VecNorm": ("Pendulum-v1", {}, vec_norm),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_each_transform_in_the_registry_has_its_effect_on_a_real_env(name):
    if name not in EFFECTS:
        pytest.fail(f"transform {name} has no effect assertion: add it to EFFECTS")
    env_id, params, shows = EFFECTS[name]
    out = zero_action_rollout(env_id, [{"name": name, "params": params}])
    plain = zero_action_rollout(env_id, [], steps=2 * STEPS if name == "FrameSkipTransform" else STEPS)
    shows(out, plain)


def test_observation_norm_measures_stats_when_the_env_is_built():
    torch.manual_seed(0)  # random play measures the stats: the same play whatever ran before
    cfg = validate({
        "env": {"id": "Pendulum-v1", "num_envs": 4},
        "transforms": [
            {"name": "ObservationNorm", "params": {"init_stats_steps": 200}},
            {"name": "CatFrames", "params": {"N": 2}},
        ],
    })
    env = make_env(cfg)
    norm = env.transform[2]
    assert norm.loc.shape == torch.Size([3]) and (norm.scale > 0).all()
    raw_velocity_std = norm.scale[2].item()
    assert raw_velocity_std > 2, "Pendulum's angular velocity spreads far wider than unit"
    velocity = env.rollout(200, break_when_any_done=False)["next", "observation"][..., 2]
    # Random play spins the pendulum alike again: its normalised velocity is near standard normal
    # (200 strongly correlated steps: near, not at).
    assert velocity.mean().abs() < 0.5
    assert 0.5 < velocity.std() < 1.6
    env.close()


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("NoSuchTransform", {}, "transforms.NoSuchTransform: unknown transform 'NoSuchTransform'"),
        ("StepCounter", {"max_step": 3}, "transforms.StepCounter.max_step: unknown parameter"),
        ("StepCounter", {"max_steps": "ten"}, "transforms.StepCounter.max_steps: expected an int"),
        ("StepCounter", {"max_steps": 2.5}, "transforms.StepCounter.max_steps: expected an int"),
        ("RewardScaling", {"scale": float("nan")}, "transforms.RewardScaling.scale: expected a finite number"),
        ("RewardScaling", {"loc": float("-inf")}, "transforms.RewardScaling.loc: expected a finite number"),
        ("ObservationNorm", {"loc": [0.0, float("inf")], "scale": 1.0},
         "transforms.ObservationNorm.loc: expected a finite number"),
        ("ClipTransform", {"low": float("nan")}, "transforms.ClipTransform.low: expected a finite number"),
        ("InitTracker", {"init_key": 3}, "transforms.InitTracker.init_key: expected a string"),
        ("StepCounter", {"max_steps": 0}, "transforms.StepCounter.max_steps: must be at least 1"),
        ("CatFrames", {"N": 2, "in_keys": [3]}, "transforms.CatFrames.in_keys: expected a list of keys"),
        ("CatFrames", {}, "transforms.CatFrames.N: required"),
        ("ObservationNorm", {"scale": 1.0}, "transforms.ObservationNorm.loc: ObservationNorm needs loc and scale"),
        ("ObservationNorm", {"loc": "x", "scale": 1}, "transforms.ObservationNorm.loc: expected a number"),
    ],
)
def test_bad_params_are_config_errors_naming_the_transform_and_param(name, params, message):
    # Built unvalidated: the config models refuse NaN too; this checks the transform's own check.
    with pytest.raises(ConfigError) as error:
        build_transform(TransformConfig.model_construct(name=name, params=params))
    assert str(error.value).startswith(message)
    # The field is named in the structured errors too, so a form can put the message beside it.
    path, _, text = message.partition(": ")
    assert [(e.path, e.message) for e in error.value.errors] == [(path, str(error.value)[len(path) + 2:])]
    assert text in error.value.errors[0].message


def test_check_transforms_names_the_first_transform_that_does_not_build():
    good = {"name": "RewardScaling", "params": {"scale": 0.5}}
    check_transforms(validate({"transforms": [good]}))
    bad = validate({"transforms": [good, {"name": "CatFrames", "params": {"N": 0}}]})
    with pytest.raises(ConfigError) as error:
        check_transforms(bad)
    assert [e.path for e in error.value.errors] == ["transforms.CatFrames.N"]


def test_defaults_fill_missing_params_and_nested_keys_become_tuples():
    params = check_params(TransformConfig(name="RewardSum", params={"in_keys": [["next", "reward"]]}))
    assert params == {"in_keys": [("next", "reward")], "out_keys": ["episode_reward"]}


def test_importing_the_registry_loads_no_torch():
    import subprocess
    import sys

    code = "import sys, tui_rl.engine.transforms; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
