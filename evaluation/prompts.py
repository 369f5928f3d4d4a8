"""Evaluation prompts: package-data templates (``evaluation/prompts/*.jinja``) rendered strictly into chat
messages, with zero-shot, few-shot (K dev examples drawn with a fixed seed) and chain-of-thought styles.

The template texts and their hash are stored with every run, so a result always says what was asked.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import Environment, StrictUndefined, meta

from scireflect.errors import ConfigError
from scireflect.schema import Question

STYLES = ("cot", "direct")
TEMPLATES = {  # template file -> the placeholders it may use
    "system": frozenset({"style"}),
    "question": frozenset({"question", "choices", "unit", "style"}),
    "example_answer": frozenset({"solution", "answer", "style"}),
}
Message = dict[str, str]


def _env() -> Environment:
    return Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@lru_cache(maxsize=1)
def templates() -> dict[str, str]:
    """The template texts, each checked for placeholders it is not given (a typo fails at load)."""
    out: dict[str, str] = {}
    folder = resources.files("scireflect.evaluation").joinpath("prompts")
    for name, allowed in TEMPLATES.items():
        try:
            text = folder.joinpath(f"{name}.jinja").read_text(encoding="utf-8")
        except FileNotFoundError as e:
            raise ConfigError(f"evaluation prompt missing from the package: prompts/{name}.jinja") from e
        out[name] = check_placeholders(name, text, allowed)
    return out


def check_placeholders(name: str, text: str, allowed: frozenset[str]) -> str:
    unknown = meta.find_undeclared_variables(_env().parse(text)) - allowed
    if unknown:
        raise ConfigError(f"evaluation prompt {name}.jinja uses unknown placeholders: {', '.join(sorted(unknown))}")
    return text


def templates_digest() -> str:
    h = hashlib.sha256()
    for name, text in sorted(templates().items()):
        h.update(name.encode() + b"\0" + text.encode() + b"\0")
    return h.hexdigest()[:12]


def _render(name: str, **values: Any) -> str:
    return _env().from_string(templates()[name]).render(**values).strip()


def shown_unit(q: Question) -> str | None:
    """The unit the model is told to answer in (SciBench keeps it as LaTeX in metadata)."""
    unit = q.metadata.get("unit_latex") if q.metadata.get("format") == "scibench" else q.unit
    return (str(unit).strip() or None) if unit else None


def _question_text(q: Question, style: str) -> str:
    return _render("question", question=q.question, choices=q.choices or [], unit=shown_unit(q), style=style)


@dataclass(frozen=True)
class PromptBuilder:
    """Builds the messages for one item: system, K (question, answer) example turns, the question."""

    style: str = "cot"
    shots: int = 0
    seed: int = 0
    dev: tuple[Question, ...] = ()

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ConfigError(f"unknown prompt style {self.style!r}; choose one of: {', '.join(STYLES)}")
        if self.shots < 0:
            raise ConfigError("--shots must be 0 or more")
        templates()  # fail early on a broken template

    def examples(self, q: Question) -> list[Question]:
        """K dev examples for ``q``: its subject's dev items when there are enough, else the whole
        dev split; never the item itself; the same draw for every item of a subject (fixed seed)."""
        if not self.shots:
            return []
        # Dev and test ids are separate namespaces; the item itself is recognized by its text.
        pool = [d for d in self.dev if d.question.strip() != q.question.strip()]
        same = [d for d in pool if d.subject == q.subject]
        by_subject = len(same) >= self.shots
        pool = sorted(same if by_subject else pool, key=lambda d: d.id)
        rng = random.Random(f"{self.seed}|{q.subject if by_subject else '*'}")
        return rng.sample(pool, min(self.shots, len(pool)))

    def messages(self, q: Question) -> list[Message]:
        msgs: list[Message] = [{"role": "system", "content": _render("system", style=self.style)}]
        for ex in self.examples(q):
            msgs.append({"role": "user", "content": _question_text(ex, self.style)})
            msgs.append({"role": "assistant", "content": _render(
                "example_answer", solution=ex.metadata.get("solution") or "", answer=ex.answer, style=self.style)})
        msgs.append({"role": "user", "content": _question_text(q, self.style)})
        return msgs

    def describe(self) -> dict[str, Any]:
        """What is stored with a run: the style, the shots and the template texts with their hash."""
        return {"style": self.style, "shots": self.shots, "seed": self.seed, "dev_items": len(self.dev),
                "templates": templates(), "templates_digest": templates_digest()}
