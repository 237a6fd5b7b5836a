"""Networks from the config: encoder (MLP | ConvNet), memory core, heads; what fits which observation.

Image runs use MinAtar Breakout (10x10, four boolean channels), small enough for a CPU test; its
observation comes channels-last, so the tests put TorchRL's PermuteTransform after the run's env.
"""

import math

import pytest
import torch
from conftest import needs
from helpers import one_batch
from torchrl.collectors import Collector
from torchrl.envs import PermuteTransform
from torchrl.modules import ConvNet
from torchrl.objectives import ClipPPOLoss

from tui_rl.config import ConfigError, RunConfig, apply_overrides, validate
from tui_rl.config.network_fit import conv_shapes, describe_network, network_misfit
from tui_rl.engine.algorithms import build_algorithm
from tui_rl.engine.algorithms.on_policy import advantages, shuffled_passes
from tui_rl.engine.algorithms.optimisation import total_loss
from tui_rl.engine.envs.making import make_env
from tui_rl.engine.networks.encoders import ImageInput
from tui_rl.engine.run.preflight import check_buildable

torch.set_num_threads(1)

#: the MinAtar paper's network: one 3x3 conv of 16 channels, stride 1
MINATAR_CONV = ["network.conv_channels=[16]", "network.conv_kernels=[3]", "network.conv_strides=[1]"]


def minatar_config(*overrides: str) -> RunConfig:
    import gymnasium

    if "MinAtar/Breakout-v1" not in gymnasium.registry:
        needs("minatar.gym", "minatar").register_envs()
    return apply_overrides(RunConfig(), [
        "env.id=MinAtar/Breakout-v1", "network.encoder=convnet", *MINATAR_CONV, "network.hidden_sizes=[32]",
        "collector.frames_per_batch=100", "replay_buffer.batch_size=32", "replay_buffer.size=1000",
        *overrides,
    ])


def image_env(config: RunConfig):
    """The run's env, its boolean [10, 10, 4] frames read channel-first (still boolean)."""
    env = make_env(config)
    env.append_transform(PermuteTransform([-1, -3, -2], in_keys=["observation"]))
    return env


def train(config: RunConfig, env, frames: int = 300) -> tuple[object, dict, object]:
    algorithm = build_algorithm(config, env, "cpu")
    before = [p.detach().clone() for p in algorithm.loss_module.parameters()]
    collector = Collector(env, algorithm.collector_policy, frames_per_batch=100, total_frames=frames,
                          auto_register_policy_transforms=False)
    done, logged = 0, {}
    for batch in collector:
        done += batch.numel()
        logged = algorithm.update(batch, done)
        assert all(math.isfinite(value) for value in logged.values()), logged
    collector.shutdown()
    assert any(key.startswith("loss_") for key in logged), logged
    after = list(algorithm.loss_module.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after)), "no parameter was trained"
    return algorithm, logged, batch


# ---- the config ---------------------------------------------------------------------------------


def test_convnet_defaults_are_nature_dqn_and_each_layer_needs_a_kernel_and_a_stride():
    network = RunConfig().network
    assert (network.encoder, network.recurrent) == ("mlp", "none")
    assert (network.conv_channels, network.conv_kernels, network.conv_strides) == ([32, 64, 64], [8, 4, 3], [4, 2, 1])
    with pytest.raises(ConfigError) as error:
        apply_overrides(RunConfig(), ["network.conv_kernels=[8, 4]"])
    assert error.value.errors[0].path == "network.conv_kernels"
    assert "conv_channels has 3 layers" in error.value.errors[0].message


def test_memory_with_an_algorithm_that_has_none_names_the_field_and_the_ones_that_do():
    with pytest.raises(ConfigError) as error:
        validate({"env": {"id": "Pendulum-v1"}, "algorithm": {"name": "sac"}, "network": {"recurrent": "lstm"}})
    (field_error,) = error.value.errors
    assert field_error.path == "network.recurrent"
    assert "sac takes no memory core" in field_error.message and "dqn, ppo, a2c" in field_error.message


def test_old_prioritized_flag_loads_as_the_sampler_and_slices_must_fill_a_batch():
    assert validate({"replay_buffer": {"prioritized": True}}).replay_buffer.sampler == "prioritized"
    assert validate({"replay_buffer": {"prioritized": False}}).replay_buffer.sampler == "random"
    with pytest.raises(ConfigError) as error:
        validate({"replay_buffer": {"sampler": "slice", "slice_len": 10, "batch_size": 32}})
    assert error.value.errors[0].path == "replay_buffer.slice_len"
    assert "must divide batch_size (32)" in error.value.errors[0].message


# ---- what fits which observation ----------------------------------------------------------------


def test_nature_convnet_shapes_on_a_stack_of_four_84x84_frames():
    network = RunConfig().network.model_copy(update={"encoder": "convnet", "hidden_sizes": [512]})
    assert conv_shapes(network, (4, 84, 84)) == [(4, 84, 84), (32, 20, 20), (64, 9, 9), (64, 7, 7)]
    assert network_misfit(network, (4, 84, 84), "ALE/Pong-v5") is None
    # a stack of four RGB frames [4, 3, 84, 84] is read as 12 channels
    assert conv_shapes(network, (4, 3, 84, 84))[0] == (12, 84, 84)
    assert describe_network(network, (4, 84, 84)) == (
        "4x84x84 -> conv 32x20x20 -> 64x9x9 -> 64x7x7 -> 3136 -> heads [512]"
    )


@pytest.mark.parametrize("overrides, shape, path, words", [
    (["network.encoder=convnet"], (4,), "network.encoder", "CartPole-v1 gives a vector [4]: use mlp"),
    ([], (4, 84, 84), "network.encoder", "gives an image [4x84x84]: use convnet"),
    (["network.encoder=convnet"], (10, 10, 4), "network.encoder", "channels last: add a ToTensorImage"),
    (["network.encoder=convnet"], (4, 10, 10), "network.conv_kernels",
     "conv layer 2 (kernel 4, stride 2) gets a 1x1 input from the [4x10x10] observation"),
])
def test_a_network_that_does_not_fit_the_observation_names_the_field_and_what_would(overrides, shape, path, words):
    network = apply_overrides(RunConfig(), overrides).network
    misfit = network_misfit(network, shape, "CartPole-v1")
    assert misfit.errors[0].path == path
    assert words in misfit.errors[0].message


def test_preflight_refuses_a_convnet_on_vector_observations_and_on_channels_last_frames():
    with pytest.raises(ConfigError) as error:
        check_buildable(apply_overrides(RunConfig(), ["network.encoder=convnet"]))
    assert error.value.errors[0].path == "network.encoder"
    assert "CartPole-v1 gives a vector [4]" in error.value.errors[0].message
    # MinAtar's frames are [10, 10, 4]: the run needs a transform to read them channel-first
    with pytest.raises(ConfigError) as error:
        check_buildable(minatar_config())
    assert error.value.errors[0].path == "network.encoder"
    assert "add a ToTensorImage (or PermuteTransform) transform" in error.value.errors[0].message


def test_building_the_networks_refuses_a_frame_too_small_for_the_convnet():
    config = minatar_config("network.conv_channels=[32, 64, 64]", "network.conv_kernels=[8, 4, 3]",
                            "network.conv_strides=[4, 2, 1]")
    with pytest.raises(ConfigError) as error:
        build_algorithm(config, image_env(config), "cpu")
    assert error.value.errors[0].path == "network.conv_kernels"


# ---- images -------------------------------------------------------------------------------------


def test_image_input_scales_uint8_folds_frame_stacks_and_keeps_floats():
    pixels = torch.full((2, 4, 3, 5, 5), 255, dtype=torch.uint8)
    out = ImageInput(observation_dims=4)(pixels)
    assert out.shape == (2, 12, 5, 5) and out.dtype == torch.float32 and out.max() == 1.0
    assert ImageInput(3)(torch.ones(3, 5, 5, dtype=torch.bool)).sum() == 75
    floats = torch.rand(3, 5, 5)
    assert ImageInput(3)(floats) is floats


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [
    ["algorithm.name=dqn"],
    ["algorithm.name=dqn", "network.recurrent=lstm", "replay_buffer.sampler=slice", "replay_buffer.slice_len=8"],
    ["algorithm.name=ppo", "algorithm.minibatch_size=50", "algorithm.epochs=2"],
    ["algorithm.name=ppo", "network.recurrent=gru", "algorithm.minibatch_size=50", "algorithm.epochs=2"],
    ["algorithm.name=a2c"],
], ids=["dqn", "drqn-lstm-slice", "ppo-shared-trunk", "ppo-gru", "a2c-shared-trunk"])
def test_each_image_combination_trains_a_few_hundred_frames_with_finite_losses(overrides):
    config = minatar_config(*overrides)
    env = image_env(config)
    algorithm, logged, batch = train(config, env)
    assert batch["observation"].dtype == torch.bool  # the network converts; the env does not
    if algorithm.replay_buffer is not None:  # and frames stay as compact in replay
        assert algorithm.replay_buffer.sample(32)["observation"].dtype == torch.bool
    env.close()


def test_ppo_on_images_shares_one_convnet_between_actor_and_critic_and_checkpoints_it():
    config = minatar_config("algorithm.name=ppo", "algorithm.minibatch_size=50", "algorithm.epochs=1")
    env = image_env(config)
    algorithm, _, _ = train(config, env, frames=200)
    actor = {id(p) for p in algorithm.actor.parameters()}
    critic = {id(p) for p in algorithm.critic.parameters()}
    (convnet,) = [m for m in algorithm.actor.modules() if isinstance(m, ConvNet)]
    assert {id(p) for p in convnet.parameters()} == actor & critic  # the trunk, and only it
    trained = [id(p) for group in algorithm.optimizer.param_groups for p in group["params"]]
    assert len(trained) == len(set(trained)), "a shared parameter is stepped twice"
    fresh = build_algorithm(config, env, "cpu")
    fresh.load_state_dict(algorithm.state_dict())
    for (name, a), b in zip(algorithm.loss_module.state_dict().items(), fresh.loss_module.state_dict().values()):
        assert torch.equal(a, b), name
    env.close()


def ppo_minibatch(config: RunConfig):
    """A PPO on MinAtar frames, and a minibatch of a batch it collected, its advantages in."""
    env = image_env(config)
    algorithm = build_algorithm(config, env, "cpu")
    batch = one_batch(env, algorithm.collector_policy, 100)
    env.close()
    advantages(algorithm.value_estimator, batch)
    return algorithm, next(shuffled_passes(batch, 1, 50, memory=False, stale=algorithm.features))


def test_ppo_runs_the_shared_convnet_once_a_minibatch_with_the_losses_and_gradients_of_the_whole_critic():
    algorithm, minibatch = ppo_minibatch(minatar_config("algorithm.name=ppo", "algorithm.critic_coef=0.5"))
    (convnet,) = [m for m in algorithm.actor.modules() if isinstance(m, ConvNet)]
    calls = []
    convnet.register_forward_hook(lambda module, args, out: calls.append(out.shape))
    losses = algorithm.loss_module(minibatch)
    assert calls == [(50, *calls[0][1:])], "actor and critic read one pass of the trunk"
    # what the loss gave when its critic ran the trunk again
    loss = algorithm.loss_module
    whole = ClipPPOLoss(algorithm.actor, algorithm.critic, clip_epsilon=loss.clip_epsilon.item(),
                        entropy_coeff=loss.entropy_coeff.item(), critic_coeff=loss.critic_coeff.item(),
                        loss_critic_type="l2", normalize_advantage=algorithm.config.algorithm.normalize_advantage)
    reference = whole(minibatch)
    assert len(calls) == 3
    params = [p for group in algorithm.optimizer.param_groups for p in group["params"]]
    for name in ["loss_objective", "loss_critic", "loss_entropy"]:
        torch.testing.assert_close(losses[name], reference[name], msg=name)
    grads = torch.autograd.grad(total_loss(losses), params, allow_unused=True)
    expected = torch.autograd.grad(total_loss(reference), params, allow_unused=True)
    assert all(g is not None for g in grads)
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e)


def test_a_ppo_checkpoint_whose_critic_held_the_trunk_too_loads_its_value_head():
    config = minatar_config("algorithm.name=ppo")
    env = image_env(config)
    algorithm = build_algorithm(config, env, "cpu")
    # the layout checkpoints had when the loss's critic ran the trunk again: its own copy, then the head
    old = ClipPPOLoss(algorithm.actor, algorithm.critic, entropy_coeff=1.0, critic_coeff=1.0).state_dict()
    assert any(key.startswith("critic_network_params.module.1.") for key in old)
    old = {key: value + 1 if key.startswith("critic_network_params.") else value for key, value in old.items()}
    state = algorithm.state_dict()
    state["loss_module"] = old
    fresh = build_algorithm(config, env, "cpu")
    fresh.load_state_dict(state)
    head = [p for p in fresh.critic.parameters() if all(p is not q for q in fresh.actor.parameters())]
    old_head = [value for key, value in old.items() if key.startswith("critic_network_params.module.1.")]
    assert len(head) == len(old_head) > 0
    for p, value in zip(head, old_head):
        assert torch.equal(p.detach(), value)
    # the trunk is the actor's: the old critic's copy of it (moved here by one) is not loaded
    (convnet,) = [m for m in fresh.actor.modules() if isinstance(m, ConvNet)]
    (original,) = [m for m in algorithm.actor.modules() if isinstance(m, ConvNet)]
    for p, q in zip(convnet.parameters(), original.parameters()):
        assert torch.equal(p, q)
    env.close()


def test_switching_to_an_algorithm_without_memory_turns_the_memory_off_and_says_so():
    from tui_rl.config.algorithm_switch import switch_algorithm

    config = apply_overrides(RunConfig(), ["network.recurrent=gru"])
    switched, changes = switch_algorithm(config, "ddpg", {})
    assert switched.network.recurrent == "none"
    assert "network.recurrent gru → none: DDPG takes no memory core" in changes
    kept, _ = switch_algorithm(config, "ppo", {})
    assert kept.network.recurrent == "gru"


@pytest.mark.parametrize("network, words", [
    ('encoder = "convnet"', "network.encoder: convnet reads images [C, H, W]; CartPole-v1 gives a vector [4]"),
    ('recurrent = "lstm"\n[algorithm]\nname = "ddpg"', "network.recurrent: ddpg takes no memory core"),
])
def test_presets_validate_names_the_network_field_that_does_not_fit(tmp_path, capsys, network, words):
    from tui_rl.cli import main

    preset = tmp_path / "preset.toml"
    preset.write_text(f'[env]\nid = "CartPole-v1"\n[network]\n{network}\n')
    assert main(["presets", "validate", str(preset)]) == 2
    assert words in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sac", "ddpg", "td3"])
def test_continuous_action_algorithms_train_on_a_convnet_encoder(name):
    """Their actors and Q(s, a) critics read the ConvNet's features (here Pendulum's three numbers
    as a one-channel 1x3 image, which a 1x1 conv reads)."""
    from torchrl.envs import Compose, UnsqueezeTransform

    config = apply_overrides(RunConfig(), [
        "env.id=Pendulum-v1", "env.backend=gymnasium", f"algorithm.name={name}", "network.encoder=convnet",
        "network.conv_channels=[8]", "network.conv_kernels=[1]", "network.conv_strides=[1]",
        "network.hidden_sizes=[32]", "replay_buffer.batch_size=32", "replay_buffer.size=1000",
    ])
    env = make_env(config)
    env.append_transform(Compose(UnsqueezeTransform(dim=-2, in_keys=["observation"]),
                                 UnsqueezeTransform(dim=-3, in_keys=["observation"])))
    algorithm, _, _ = train(config, env, frames=200)
    assert any(isinstance(m, ConvNet) for m in algorithm.eval_policy.modules())
    env.close()


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["dqn", "ppo"])
def test_nature_convnet_trains_on_atari_frames_kept_as_uint8(algorithm):
    """Pong with the Atari family's standard preprocessing: four 84x84 uint8 frames, scaled inside
    the network, so replay keeps them as uint8."""
    from tui_rl.config import edit
    from tui_rl.engine.envs.families import env_switch_edits

    needs("ale_py", "atari")
    config = edit(RunConfig(), env_switch_edits(RunConfig(), "ALE/Pong-v5"))
    config = apply_overrides(config, [
        f"algorithm.name={algorithm}", "network.encoder=convnet", "network.hidden_sizes=[64]",
        "replay_buffer.size=1000", "replay_buffer.batch_size=32", "algorithm.epochs=1" if algorithm == "ppo"
        else "algorithm.updates_per_batch=1",
    ])
    check_buildable(config)
    env = make_env(config)
    assert env.observation_spec["observation"].shape[-3:] == (4, 84, 84)
    algorithm, _, batch = train(config, env, frames=200)
    assert batch["observation"].dtype == torch.uint8
    if algorithm.replay_buffer is not None:
        assert algorithm.replay_buffer.sample(8)["observation"].dtype == torch.uint8
    env.close()
