"""The transform registry: every entry builds, params are checked, ObservationNorm measures stats."""

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.wrappers import DtypeObservation

from conftest import needs
from tui_rl.config import ConfigError, TransformConfig, validate
from tui_rl.engine.envs.families import FAMILIES
from tui_rl.engine.envs.making import make_env
from tui_rl.engine.envs.transforms import TRANSFORMS, build_transform, check_params


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


class MovingImage(gymnasium.Env):
    """12 x 16 RGB uint8 frames: red counts steps and columns, green rows, blue is 100.
    Small enough that image transforms are checked pixel by pixel, and needs no extra."""

    observation_space = gymnasium.spaces.Box(0, 255, (12, 16, 3), np.uint8)
    action_space = gymnasium.spaces.Discrete(2)

    def frame(self):
        rows, cols = np.mgrid[:12, :16]
        return np.stack([(self.t * 10 + cols) % 256, rows * 5, np.full_like(rows, 100)], -1).astype(np.uint8)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.frame(), {}

    def step(self, action):
        self.t += 1
        return self.frame(), 1.0, False, self.t >= 200, {}


gymnasium.register("TuiRlTest/MovingImage-v0", entry_point=MovingImage)
IMAGE_ENV = "TuiRlTest/MovingImage-v0"
#: the test image env's frames as C x H x W uint8, what the image transforms take
AS_CHW = {"name": "ToTensorImage", "params": {"in_keys": ["pixels"], "from_int": False, "dtype": "uint8"}}

STEPS = 40


def zero_action_rollout(env, transforms: list, steps: int = STEPS):
    """A seeded episode start with the action held at zero: the same trajectory on every build.
    ``env`` is an env id or a whole env section."""
    section = {"id": env} if isinstance(env, str) else env
    # Gymnasium's env: the assertions below were read off its seed-3 trajectory
    env = make_env(validate({"env": {"backend": "gymnasium", **section, "seed": 3}, "transforms": transforms}))
    try:
        return env.rollout(steps, lambda td: td.set("action", env.action_spec.zero()), break_when_any_done=False)
    finally:
        env.close()


def observations(rollout, key="observation"):
    return rollout["next", key]


def pixels(rollout):
    return rollout["next", "pixels"]


def rewards(rollout):
    return rollout["next", "reward"]


def step_counter(out, plain):
    # Each episode is cut after 5 steps, and the rollout goes on in a fresh one.
    assert out["next", "step_count"].squeeze(-1).tolist()[:10] == [1, 2, 3, 4, 5] * 2
    assert out["next", "truncated"].squeeze(-1).nonzero().squeeze(-1).tolist()[:2] == [4, 9]


def reward_sum(out, plain):
    assert torch.allclose(out["next", "return_so_far"], rewards(plain).cumsum(0))


def double_to_float(out, plain):
    # without it in the stack the env is cast all the same (the networks are float32): same values
    assert observations(out).dtype == observations(plain).dtype == torch.float32
    assert torch.equal(observations(out), observations(plain))


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
    # applied on the env, before the bookkeeping: the episode return counts every skipped frame
    assert torch.allclose(out["next", "episode_reward"], rewards(plain).cumsum(0)[1::2], rtol=1e-4)


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


def noop_reset(out, plain):
    # Five random steps after each reset: 20-step episodes (the env's limit) last 15 agent steps.
    assert plain["next", "truncated"].squeeze(-1).nonzero()[0].item() == 19
    assert out["next", "truncated"].squeeze(-1).nonzero()[0].item() == 14
    assert out["next", "step_count"][14].item() == 15


def end_of_life(out, plain):
    """Needs an Atari game with lives: Breakout with the standard stack, at random."""
    needs("ale_py", "atari")
    torch.manual_seed(0)  # random actions
    family = FAMILIES["atari"]
    env = make_env(validate({"env": {"id": "ALE/Breakout-v5", "kwargs": family.kwargs, "seed": 1},
                             "transforms": list(family.transforms)}))
    rollout = env.rollout(400, break_when_any_done=False)
    env.close()
    lost = rollout["next", "lives"] < rollout["lives"]
    assert lost.any(), "random play loses a Breakout ball within 400 steps"
    done = rollout["next", "done"].squeeze(-1)
    assert torch.equal(rollout["next", "end-of-life"].squeeze(-1), lost | done)
    assert not done[lost].all(), "a life lost is not the end of the game"
    # rewards are clipped (Breakout's bricks are worth 1, 4 and 7), the episode return is not
    assert rollout["next", "reward"].abs().max() <= 1


def rename(out, plain):
    assert "observation" not in out["next"].keys()
    assert torch.equal(out["next", "obs"], observations(plain))


def chw(plain):
    return pixels(plain).permute(0, 3, 1, 2)


def to_tensor_image(out, plain):
    assert pixels(out).dtype == torch.float32
    assert torch.allclose(pixels(out), chw(plain) / 255)


# GrayScale, Resize, CenterCrop and CatFrames on images follow AS_CHW in both rollouts


def grayscale(out, plain):
    rgb = pixels(plain).float()
    grey = 0.2989 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]
    assert pixels(out).shape == (STEPS, 1, 12, 16) and pixels(out).dtype == torch.uint8
    assert (pixels(out)[:, 0].float() - grey).abs().max() <= 1


def resize(out, plain):
    assert pixels(out).shape == (STEPS, 3, 6, 8) and pixels(out).dtype == torch.uint8
    # halving, antialiased: inside the image each pixel is about the mean of its 2 x 2 block
    # (green: rows 2i and 2i+1 -> 5 * (2i + 0.5)); the edges weigh their own rows more
    green = pixels(out)[:, 1, :, 0].float()
    assert green[:, 1:-1].sub(torch.arange(1, 5) * 10 + 2.5).abs().max() <= 1
    assert (green.diff(dim=1) > 0).all()
    assert (pixels(out)[:, 2] == 100).all()


def center_crop(out, plain):
    assert torch.equal(pixels(out), pixels(plain)[:, :, 2:10, 4:12])


def cat_frames_on_pixels(out, plain):
    frames = pixels(plain)
    assert pixels(out).shape == (STEPS, 9, 12, 16)
    assert torch.equal(pixels(out)[10], torch.cat([frames[8], frames[9], frames[10]]))


def select_observation(out, plain):
    assert torch.equal(observations(out), observations(plain)[:, [0, 2]])


#: transform -> (env, params, what the transformed rollout shows against the plain one[, the
#: transforms before it in both rollouts])
EFFECTS = {
    "StepCounter": ("Pendulum-v1", {"max_steps": 5}, step_counter),
    "RewardSum": ("Pendulum-v1", {"out_keys": ["return_so_far"]}, reward_sum),
    "DoubleToFloat": ("TuiRlTest/PendulumFloat64-v0", {}, double_to_float),
    "ObservationNorm": ("Pendulum-v1", {"loc": 1.0, "scale": 2.0}, observation_norm),
    "RewardScaling": ("Pendulum-v1", {"loc": 1.0, "scale": 0.01}, reward_scaling),
    "InitTracker": ("Pendulum-v1", {}, init_tracker),
    "FrameSkipTransform": ("Pendulum-v1", {"frame_skip": 2}, frame_skip),
    "ClipTransform": ("Pendulum-v1", {"low": -0.5, "high": 0.5}, clip_transform),
    "RewardClipping": ("Pendulum-v1", {"clamp_min": -1.0, "clamp_max": 1.0}, reward_clipping),
    "VecNorm": ("Pendulum-v1", {}, vec_norm),
    "NoopResetEnv": ({"id": "Pendulum-v1", "max_episode_steps": 20}, {"noops": 5, "random": False}, noop_reset),
    "EndOfLifeTransform": ("Pendulum-v1", {}, end_of_life),  # runs its own Atari game
    "RenameTransform": ("Pendulum-v1", {"in_keys": ["observation"], "out_keys": ["obs"]}, rename),
    "ToTensorImage": (IMAGE_ENV, {"in_keys": ["pixels"]}, to_tensor_image),
    "GrayScale": (IMAGE_ENV, {"in_keys": ["pixels"]}, grayscale, [AS_CHW]),
    "Resize": (IMAGE_ENV, {"w": 6, "h": 8, "in_keys": ["pixels"]}, resize, [AS_CHW]),
    "CenterCrop": (IMAGE_ENV, {"w": 8, "in_keys": ["pixels"]}, center_crop, [AS_CHW]),
    "CatFrames": (IMAGE_ENV, {"N": 3, "dim": -3, "in_keys": ["pixels"]}, cat_frames_on_pixels, [AS_CHW]),
    "SelectObservation": ("Pendulum-v1", {"indices": [0, 2]}, select_observation),
}
#: the vector form of CatFrames is checked too
MORE_EFFECTS = {"CatFrames on vectors": ("Pendulum-v1", {"N": 3}, cat_frames)}


@pytest.mark.parametrize("name", list(TRANSFORMS) + list(MORE_EFFECTS))
def test_each_transform_in_the_registry_has_its_effect_on_a_real_env(name):
    if name not in EFFECTS and name not in MORE_EFFECTS:
        pytest.fail(f"transform {name} has no effect assertion: add it to EFFECTS")
    env, params, shows, *before = EFFECTS.get(name) or MORE_EFFECTS[name]
    before = before[0] if before else []
    if shows is end_of_life:
        return shows(None, None)
    out = zero_action_rollout(env, [*before, {"name": name.split()[0], "params": params}])
    plain = zero_action_rollout(env, before, steps=2 * STEPS if name == "FrameSkipTransform" else STEPS)
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


def test_defaults_fill_missing_params_and_nested_keys_become_tuples():
    params = check_params(TransformConfig(name="RewardSum", params={"in_keys": [["next", "reward"]]}))
    assert params == {"in_keys": [("next", "reward")], "out_keys": ["episode_reward"]}


def test_importing_the_registry_loads_no_torch():
    import subprocess
    import sys

    code = "import sys, tui_rl.engine.envs.transforms; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cartpole_with_its_velocities_masked_sees_position_and_angle_only():
    masked = [{"name": "SelectObservation", "params": {"indices": [0, 2]}}]
    env = make_env(validate({"env": {"id": "CartPole-v1"}, "transforms": masked}))
    assert env.observation_spec["observation"].shape == torch.Size([2])
    out = zero_action_rollout("CartPole-v1", masked)
    plain = zero_action_rollout("CartPole-v1", [])
    # CartPole's observation: cart position, cart velocity, pole angle, pole angular velocity
    assert torch.equal(observations(out), observations(plain)[:, [0, 2]])
    assert torch.equal(out["observation"], plain["observation"][:, [0, 2]])
    env.close()


def test_registry_params_are_the_torchrl_signatures():
    """transform_signatures.json (what the torch-free registry reads) is what the installed
    TorchRL's signatures say; rewrite it with python -m tui_rl.engine.envs.transforms when not."""
    from tui_rl.engine.envs.transform_params import load_signatures, signatures_of
    from tui_rl.engine.envs.transforms import derived_targets

    assert load_signatures() == signatures_of(derived_targets())


def test_registry_kinds_and_defaults_come_from_the_signatures():
    # CatFrames(N: int, dim: int, in_keys: Sequence[NestedKey] | None, ...) and
    # NoopResetEnv(noops: int = 30, random: bool = True), read, not written by hand
    noop = {p.name: p for p in TRANSFORMS["NoopResetEnv"].params}
    assert (noop["noops"].kind, noop["noops"].default, noop["random"].kind, noop["random"].default) == ("int", 30, "bool", True)
    cat = {p.name: p for p in TRANSFORMS["CatFrames"].params}
    assert cat["N"].required and cat["in_keys"].kind == "keys"


def test_image_params_are_checked():
    with pytest.raises(ConfigError, match="transforms.ToTensorImage.dtype: expected a dtype"):
        check_params(TransformConfig(name="ToTensorImage", params={"dtype": "int7"}))
    with pytest.raises(ConfigError, match="transforms.SelectObservation.indices: expected a list of ints"):
        check_params(TransformConfig(name="SelectObservation", params={"indices": ["x"]}))
    assert check_params(TransformConfig(name="SelectObservation", params={"indices": 1}))["indices"] == [1]
