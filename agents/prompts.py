"""Prompt templates as package data, rendered strictly (a missing variable is an error, not blank)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import Environment, StrictUndefined, meta

from scireflect.errors import ConfigError

PROMPT_PACKAGE = "scireflect.agents"
PROMPT_DIR = "prompts"


def _env() -> Environment:
    return Environment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)


@dataclass(frozen=True)
class PromptPair:
    """A system and a user template of one agent, with the variables they use."""

    name: str
    system: str
    user: str
    variables: frozenset[str]

    def render(self, **values: Any) -> tuple[str, str]:
        missing = self.variables - values.keys()
        if missing:
            raise ConfigError(f"prompt {self.name!r} needs values for: {', '.join(sorted(missing))}")
        return (_compiled(self.system).render(**values).strip(),
                _compiled(self.user).render(**values).strip())


@lru_cache(maxsize=256)
def _compiled(source: str) -> Any:
    # Compiling a template costs milliseconds; at batch scale every model call renders one.
    return _env().from_string(source)


def _read(name: str) -> str:
    path = resources.files(PROMPT_PACKAGE).joinpath(PROMPT_DIR, name)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"prompt file missing from the package: {PROMPT_DIR}/{name}") from e


@lru_cache(maxsize=None)
def load_prompt(name: str, allowed: frozenset[str]) -> PromptPair:
    """Load ``NAME.system.jinja`` and ``NAME.user.jinja`` and check their placeholders against ``allowed``."""
    system, user = _read(f"{name}.system.jinja"), _read(f"{name}.user.jinja")
    env = _env()
    used = meta.find_undeclared_variables(env.parse(system)) | meta.find_undeclared_variables(env.parse(user))
    unknown = used - allowed
    if unknown:
        raise ConfigError(f"prompt {name!r} uses unknown placeholders: {', '.join(sorted(unknown))}")
    return PromptPair(name=name, system=system, user=user, variables=frozenset(used))


def prompt_files_digest() -> str:
    """A hash of every prompt file shipped, for the pipeline version."""
    h = hashlib.sha256()
    folder = resources.files(PROMPT_PACKAGE).joinpath(PROMPT_DIR)
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".jinja"):
            h.update(entry.name.encode())
            h.update(entry.read_bytes())
    return h.hexdigest()
