"""Agents: solver, critic and reviser, each a prompt (package data) plus the inputs it may see."""

from __future__ import annotations

from scireflect.agents.base import Agent, AgentOutput
from scireflect.agents.critic import Critic, findings_for_critic
from scireflect.agents.reviser import AnswerReviser, Reviser
from scireflect.agents.solver import Solver

__all__ = ["Agent", "AgentOutput", "Solver", "Critic", "Reviser", "AnswerReviser", "findings_for_critic",
           "AGENTS"]

AGENTS: dict[str, type[Agent]] = {cls.name: cls for cls in (Solver, Critic, Reviser, AnswerReviser)}
