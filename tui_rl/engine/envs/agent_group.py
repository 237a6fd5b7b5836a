"""A group of agents of a multi-agent env as the Setup screen shows it: torch-free, so a spec
probe carries it from the trainer process (or the disk cache) to the app."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AgentGroup:
    """One group of agents of a multi-agent env as its specs give it (one agent's shapes, as text)."""

    name: str
    agents: int
    observation: str
    action: str
