"""Evaluation prompts: the student prompt (``scireflect.training.student``, the same text export writes for
training) as system and user messages, with zero-shot, few-shot (K dev examples drawn with a fixed seed) and
chain-of-thought styles. Few-shot answers come from ``evaluation/prompts/example_answer.jinja`` and end the
way the student prompt asks: ``The answer is \\boxed{...}`` with the unit inside the box.

The template texts and their hash are stored with every run, so a result always says what was asked.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import Environment, StrictUndefined, meta

from scireflect.errors import ConfigError
from scireflect.schema import Question
from scireflect.settings import Settings
from scireflect.training.student import STYLES, load_templates, student_prompt, student_unit

TEMPLATES = {  # template file -> the placeholders it may use (the student templates are checked in training/)
    "example_answer": frozenset({"solution", "answer", "unit", "style"}),
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


def templates_digest(settings: Settings | None = None) -> str:
    """Hash of every template an evaluation prompt is built from (the student's, as overridden, included)."""
    h = hashlib.sha256()
    for name, text in sorted(all_templates(settings).items()):
        h.update(name.encode() + b"\0" + text.encode() + b"\0")
    return h.hexdigest()[:12]


def all_templates(settings: Settings | None = None) -> dict[str, str]:
    """Every template text by role; ``system`` and ``question`` are the student prompt's two templates."""
    student = load_templates(settings)
    return {"system": student.system, "question": student.user, **templates()}


def _render(name: str, **values: Any) -> str:
    return _env().from_string(templates()[name]).render(**values).strip()


def shown_unit(q: Question) -> str | None:
    """The unit the model is told to answer in (SciBench keeps it as LaTeX in metadata)."""
    return student_unit(q)


def _boxed_unit(q: Question) -> str | None:
    # Inside \boxed{} a LaTeX unit loses its dollars; a unit the answer already carries is not repeated.
    unit = shown_unit(q)
    unit = unit.strip().strip("$").strip() if unit else None
    return None if not unit or unit in q.answer else unit


@dataclass(frozen=True)
class PromptBuilder:
    """Builds the messages for one item: the student prompt's system message, K (question, answer) example
    turns, the question as the student prompt's user message. ``settings`` supplies ``student_prompts_dir``."""

    style: str = "cot"
    shots: int = 0
    seed: int = 0
    dev: tuple[Question, ...] = ()
    settings: Settings | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ConfigError(f"unknown prompt style {self.style!r}; choose one of: {', '.join(STYLES)}")
        if self.shots < 0:
            raise ConfigError("--shots must be 0 or more")
        all_templates(self.settings)  # fail early on a broken template

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
        """The chat messages for ``q``; with no shots exactly ``student_messages(q)`` (in the cot style)."""
        system, user = student_prompt(q, settings=self.settings, style=self.style)
        msgs: list[Message] = [{"role": "system", "content": system}]
        for ex in self.examples(q):
            msgs.append({"role": "user", "content": student_prompt(ex, settings=self.settings, style=self.style)[1]})
            msgs.append({"role": "assistant", "content": _render(
                "example_answer", solution=ex.metadata.get("solution") or "", answer=ex.answer,
                unit=_boxed_unit(ex), style=self.style)})
        msgs.append({"role": "user", "content": user})
        return msgs

    def describe(self) -> dict[str, Any]:
        """What is stored with a run: the style, the shots and the template texts with their hash."""
        return {"style": self.style, "shots": self.shots, "seed": self.seed, "dev_items": len(self.dev),
                "templates": all_templates(self.settings), "templates_digest": templates_digest(self.settings),
                "student_templates": list(load_templates(self.settings).origins)}
