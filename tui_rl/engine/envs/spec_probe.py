"""What the Setup screen shows of an env: its action kind, its specs and the shapes its networks
may read, probed by building one env copy with its transforms, and kept on disk.

Probing imports torch and TorchRL and builds the env (seconds): the app never does it in its own
interpreter, it asks the warm trainer process (``engine/run/warm_requests.py``), which calls
:func:`probe_specs`. What a probe found is cached under the user's cache folder, one JSON file per
env id, kwargs, transforms and device, keyed by the installed packages' versions as the env list
is (``registry_cache.py``), so a second open shows the specs at once. A failed probe is not
cached (an extra installed since may mend it), nor is an env of the user's own code (its file may
change under the same id).

Torch-free at import: only :func:`probe_specs` imports the engine's torch side.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tui_rl.config import RunConfig
from tui_rl.engine.envs.agent_group import AgentGroup
from tui_rl.engine.envs.registry_cache import cache_folder, installed_versions, write_json
from tui_rl.engine.envs.user_envs import user_code

#: what a cached probe's JSON looks like; a new layout bumps it
FORMAT = 2
FOLDER = "spec-probes"


@dataclass(frozen=True)
class SpecProbe:
    """A probe's findings: ``kind`` "discrete" / "continuous" / ..., None when it failed; the specs
    as short texts by name; ``error`` why the env could not be built ("" when it was);
    ``inputs`` what the networks may read, by key, one observation's shapes (None on failure, and
    for a multi-agent env, whose groups' networks read their own agents'); ``groups`` a
    multi-agent env's groups of agents, () for one agent."""

    kind: str | None
    specs: dict[str, str]
    error: str = ""
    inputs: dict[str, tuple[int, ...]] | None = None
    groups: tuple[AgentGroup, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> SpecProbe:
        """A probe from its JSON, checked field by field (TypeError / KeyError when it is not one)."""
        kind, specs, error, inputs = data["kind"], data["specs"], data["error"], data["inputs"]
        if not ((kind is None or isinstance(kind, str)) and isinstance(error, str) and isinstance(specs, dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in specs.items())
                and (inputs is None or isinstance(inputs, dict)) and isinstance(data["groups"], (list, tuple))):
            raise TypeError(f"not a spec probe: {data!r}")
        shapes = None if inputs is None else {str(key): tuple(int(n) for n in shape) for key, shape in inputs.items()}
        groups = tuple(AgentGroup(str(g["name"]), int(g["agents"]), str(g["observation"]), str(g["action"]))
                       for g in data["groups"])
        return cls(kind, dict(specs), error, shapes, groups)


def probe_specs(config: RunConfig) -> SpecProbe:
    """Build ``config``'s env (one copy, its transforms) and read it; never raises: a failure is
    the probe's ``error``, a readable sentence."""
    try:
        from tui_rl.engine.envs.making import action_kind, describe_specs, make_env
        from tui_rl.engine.envs.multi_agent import agent_groups, group_action_kinds, is_multi_agent_env
        from tui_rl.engine.networks.encoders import observation_inputs

        env = make_env(config, num_envs=1)
        try:
            specs = describe_specs(env)
            if code := user_code(config.env.id, config.env.imports):  # what building it ran
                specs["your code"] = ", ".join(code)
            if is_multi_agent_env(env):  # each group's networks read their own agents' observations
                kinds = set(group_action_kinds(env).values())
                return SpecProbe(kinds.pop() if len(kinds) == 1 else None, specs, "", None, tuple(agent_groups(env)))
            return SpecProbe(action_kind(env), specs, "", observation_inputs(env))
        finally:
            env.close()
    except ValueError as exc:  # ConfigError / EnvError: already a readable sentence
        return SpecProbe(None, {}, str(exc))
    except Exception as exc:  # anything else a third-party env raises
        return SpecProbe(None, {}, f"{type(exc).__name__}: {exc}")


def cache_path(config: RunConfig) -> Path | None:
    """Where ``config``'s probe is cached for the installed versions; None for an env of the
    user's code (never cached)."""
    if user_code(config.env.id, config.env.imports):
        return None
    key = {
        "format": FORMAT,
        "versions": installed_versions(),
        "env": config.env.model_dump(mode="json"),
        "transforms": [transform.model_dump(mode="json") for transform in config.transforms],
        "device": config.device,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    return cache_folder() / FOLDER / f"{digest}.json"


def cached_probe(config: RunConfig) -> SpecProbe | None:
    """The probe stored for ``config``; None when there is none (or it is not what we write)."""
    path = cache_path(config)
    if path is None:
        return None
    try:
        return SpecProbe.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store_probe(config: RunConfig, probe: SpecProbe) -> None:
    """Keep a probe that succeeded, for the next open of the same env."""
    path = cache_path(config)
    if path is not None and not probe.error:
        write_json(path, probe.to_json())
