"""The transform registry: every entry builds, params are checked, ObservationNorm measures stats."""

import pytest
import torch

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


# Each transform with params that make sense on Pendulum, and what the built env must show for it.
WORKING = {
    "StepCounter": {"max_steps": 5},
    "RewardSum": {},
    "DoubleToFloat": {},
    "ObservationNorm": {"loc": 0.0, "scale": 2.0},
    "RewardScaling": {"scale": 0.01},
    "CatFrames": {"N": 3},
    "InitTracker": {},
    "FrameSkipTransform": {"frame_skip": 2},
    "ClipTransform": {"low": -0.5, "high": 0.5},
    "RewardClipping": {"clamp_min": -1.0, "clamp_max": 1.0},
    "VecNorm": {},
}


@pytest.mark.parametrize("name", sorted(WORKING))
def test_each_transform_builds_into_a_working_env(name):
    cfg = validate({"env": {"id": "Pendulum-v1"}, "transforms": [{"name": name, "params": WORKING[name]}]})
    env = make_env(cfg)
    rollout = env.rollout(8)
    assert rollout.shape[0] == (5 if name == "StepCounter" else 8)
    observation = rollout["next", "observation"]
    assert torch.isfinite(observation).all()
    if name == "CatFrames":
        assert observation.shape[-1] == 9
    if name == "ClipTransform":
        assert observation.abs().max() <= 0.5
    if name == "RewardClipping":
        assert rollout["next", "reward"].abs().max() <= 1.0
    if name == "InitTracker":
        assert rollout["is_init"][0].item() and not rollout["is_init"][1:].any()
    env.close()


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
