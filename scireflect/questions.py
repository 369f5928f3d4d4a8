"""Reading questions from JSONL: each bad line becomes an InputError naming file and line; the rest load."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from pydantic import ValidationError

from scireflect.errors import InputError
from scireflect.schema import Question


@dataclass
class LoadResult:
    questions: list[Question] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)


def question_id_for(text: str) -> str:
    """A stable id for a question given without one (the hash of its text)."""
    return "q_" + hashlib.sha256(text.strip().encode()).hexdigest()[:12]


def _describe(e: ValidationError) -> str:
    parts = []
    for err in e.errors()[:3]:
        loc = ".".join(str(x) for x in err["loc"]) or "record"
        if err["type"] == "missing":
            parts.append(f"missing required field {loc!r}")
        elif err["type"] == "extra_forbidden":
            parts.append(f"unknown field {loc!r}")
        else:
            parts.append(f"field {loc!r}: {err['msg']}")
    return "; ".join(parts)


def _unit_problem(unit: str | None) -> str | None:
    """Why a question's ``unit`` field cannot be read, or None when it can (or is blank)."""
    if unit is None or not unit.strip():
        return None
    # Imported here: pint's registry is built only for files that give units (parse_unit_spec caches).
    from scireflect.tools.verifiers.units import parse_unit_spec

    if parse_unit_spec(unit) is not None:
        return None
    shown = " ".join(unit.split())  # one line, LaTeX backslashes as written (repr would double them)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return f"unit '{shown}' could not be read as a unit"


def iter_questions(path: str | Path) -> Iterator[Question | InputError]:
    """Yield a Question or an InputError per non-blank line, in file order."""
    p = Path(path)
    try:
        fh = p.open(encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot read questions file: {e.strerror}", path=str(p)) from e
    seen: set[str] = set()
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as e:
                yield InputError(f"not valid JSON ({e.msg} at column {e.colno})", path=str(p), line=lineno)
                continue
            if not isinstance(data, dict):
                yield InputError("a record must be a JSON object", path=str(p), line=lineno)
                continue
            if "id" not in data and isinstance(data.get("question"), str):
                data["id"] = question_id_for(data["question"])
            try:
                q = Question.model_validate(data)
            except ValidationError as e:
                yield InputError(_describe(e), path=str(p), line=lineno)
                continue
            if q.type == "multiple_choice" and not q.choices:
                yield InputError("multiple_choice question without 'choices'", path=str(p), line=lineno)
                continue
            if q.type == "proof" and not q.lean_statement:
                yield InputError("proof question without 'lean_statement'", path=str(p), line=lineno)
                continue
            unit_problem = _unit_problem(q.unit)
            if unit_problem:  # skipped: a verdict against a reference in an unknown unit means nothing
                yield InputError(unit_problem, path=str(p), line=lineno)
                continue
            if q.id in seen:
                yield InputError(f"duplicate question id {q.id!r}", path=str(p), line=lineno)
                continue
            seen.add(q.id)
            yield q


def load_questions(path: str | Path) -> LoadResult:
    res = LoadResult()
    for item in iter_questions(path):
        (res.errors if isinstance(item, InputError) else res.questions).append(item)  # type: ignore[arg-type]
    return res
