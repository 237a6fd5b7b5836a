"""The default search spaces (``tui-rl search`` without ``--param``): RL Zoo's own
(``rl_zoo3/hyperparams_opt.py``, DLR-RM/rl-baselines3-zoo: ``sample_ppo_params``,
``sample_a2c_params``, ``sample_dqn_params``, ``sample_sac_params``, ``sample_ddpg_params``,
``sample_td3_params``), mapped onto the fields tui-rl has. Each algorithm names its space in the
algorithm registry (``AlgorithmSection.search_space``); one that names none has no default space,
and a search of it needs ``--param`` expressions.

The mapping: ``n_steps``/``train_freq`` -> ``collector.frames_per_batch``, ``batch_size`` ->
``algorithm.minibatch_size`` (PPO) or ``replay_buffer.batch_size``, ``buffer_size`` ->
``replay_buffer.size``, ``learning_starts`` -> ``collector.init_random_frames``, ``net_arch`` ->
``network.hidden_sizes``, ``activation_fn`` -> ``network.activation``, ``exploration_final_eps``
-> ``algorithm.eps_end``, ``noise_std`` -> ``algorithm.noise_sigma``. RL Zoo samples ``1 - gamma``
and ``1 - gae_lambda`` log-uniformly for PPO and A2C; here those are the categorical lists RL Zoo
uses for its other algorithms. Left out, as tui-rl has no field of that meaning: gradient steps tied
to ``train_freq``, ``exploration_fraction`` (a fraction of the budget, not frames),
``target_update_interval`` (hard updates only), ``log_std_init``, gSDE.

A space maps field paths to the expressions ``--param`` takes (engine/search/space.py reads them).
Imports neither torch nor textual.
"""

from __future__ import annotations

from collections.abc import Mapping

#: field path -> ``--param`` expression
SearchSpace = Mapping[str, str]

GAMMAS = "choice(0.9,0.95,0.98,0.99,0.995,0.999,0.9999)"
ON_POLICY_GAMMAS = "choice(0.97,0.98,0.99,0.995,0.999,0.9999)"  # 1 - loguniform(1e-4, 0.03)
GAE_LAMBDAS = "choice(0.9,0.95,0.98,0.99,0.999)"  # 1 - loguniform(1e-4, 0.1)
TAUS = "choice(0.001,0.005,0.01,0.02,0.05,0.08)"
TRAIN_FREQS = "choice(1,4,8,16,32,64,128,256,512)"
BIG_NETS = "choice([64,64],[256,256],[400,300])"

PPO_SPACE: SearchSpace = {
    "collector.frames_per_batch": "choice(32,64,128,256,512,1024,2048)",
    "algorithm.minibatch_size": "choice(32,64,128,256,512)",
    "algorithm.gamma": ON_POLICY_GAMMAS,
    "algorithm.gae_lambda": GAE_LAMBDAS,
    "optim.lr": "loguniform(1e-5,0.002)",
    "algorithm.entropy_coef": "loguniform(1e-8,0.1)",
    "algorithm.clip_epsilon": "choice(0.1,0.2,0.3,0.4)",
    "algorithm.epochs": "choice(1,5,10,20)",
    "optim.max_grad_norm": "uniform(0.3,2)",
    "network.hidden_sizes": "choice([64],[64,64],[256,256])",
    "network.activation": 'choice("tanh","relu")',
}
A2C_SPACE: SearchSpace = {
    "collector.frames_per_batch": "choice(32,64,128,256,512,1024,2048)",
    "algorithm.gamma": ON_POLICY_GAMMAS,
    "algorithm.gae_lambda": GAE_LAMBDAS,
    "optim.lr": "loguniform(1e-5,0.002)",
    "optim.max_grad_norm": "uniform(0.3,2)",
    "algorithm.entropy_coef": "loguniform(1e-8,0.1)",
    "network.hidden_sizes": "choice([64,64],[256,256])",
    "network.activation": 'choice("tanh","relu")',
}
DQN_SPACE: SearchSpace = {
    "algorithm.gamma": GAMMAS,
    "optim.lr": "loguniform(1e-5,1)",
    "replay_buffer.batch_size": "choice(16,32,64,100,128,256,512)",
    "replay_buffer.size": "choice(10000,50000,100000,1000000)",
    "algorithm.eps_end": "uniform(0,0.2)",
    "collector.init_random_frames": "choice(0,1000,5000,10000,20000)",
    "collector.frames_per_batch": "choice(1,4,8,16,128,256,1000)",
    "network.hidden_sizes": "choice([64],[64,64],[256,256])",
}
SAC_SPACE: SearchSpace = {
    "algorithm.gamma": GAMMAS,
    "optim.lr": "loguniform(1e-5,1)",
    "replay_buffer.batch_size": "choice(16,32,64,128,256,512,1024,2048)",
    "replay_buffer.size": "choice(10000,100000,1000000)",
    "collector.init_random_frames": "choice(0,1000,10000,20000)",
    "collector.frames_per_batch": TRAIN_FREQS,
    "algorithm.tau": TAUS,
    "network.hidden_sizes": BIG_NETS,
}
TD3_SPACE: SearchSpace = {
    "algorithm.gamma": GAMMAS,
    "optim.lr": "loguniform(1e-5,1)",
    "replay_buffer.batch_size": "choice(16,32,64,100,128,256,512,1024,2048)",
    "replay_buffer.size": "choice(10000,100000,1000000)",
    "algorithm.tau": TAUS,
    "collector.frames_per_batch": TRAIN_FREQS,
    "network.hidden_sizes": BIG_NETS,
}
#: TD3's space and the exploration noise
DDPG_SPACE: SearchSpace = {
    **TD3_SPACE,
    "algorithm.noise": 'choice("ou","gaussian")',
    "algorithm.noise_sigma": "uniform(0,1)",
}
