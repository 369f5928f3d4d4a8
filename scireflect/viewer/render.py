"""The viewer's Jinja environment: package templates, autoescape on for every file, strict undefined.

Autoescape is what keeps model and question text inert: every value a template prints is escaped
unless it is one of the package's own assets (marked safe in ``assets``).
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).parent / "templates"


def _ms(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _score(value: Any) -> str:
    return "" if value is None else f"{float(value):.3f}"


def _when(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:19].replace("T", " ")
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _verdict_tokens(value: str | None) -> list[tuple[str, bool, str]]:
    """(verifier, ok, reason) from the store's " answer:ok answer:equal " column."""
    toks = (value or "").split()
    out = []
    for outcome, reason in zip(toks[0::2], toks[1::2]):
        name, _, flag = outcome.rpartition(":")
        out.append((name, flag == "ok", reason.rpartition(":")[2]))
    return out


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(ms=_ms, score=_score, when=_when, verdicts=_verdict_tokens)
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)
