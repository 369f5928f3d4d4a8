"""Reading questions from JSONL: each bad line becomes an InputError naming file and line; the rest load."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

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


MAX_LINE_BYTES = 10 * 1024 * 1024
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _lines(p: Path) -> Iterator[tuple[int, str | InputError]]:
    """(line number, text) per line of a questions file, or an InputError for a line that cannot be read.

    A byte-order mark is honoured (UTF-8's is dropped, UTF-16/32 files are decoded); without one, each
    line must be UTF-8."""
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read questions file: {e.strerror}", path=str(p)) from e
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            if encoding != "utf-8":
                try:
                    raw = raw[len(bom):].decode(encoding).encode("utf-8")
                except UnicodeDecodeError:
                    raise InputError(f"not valid {encoding.upper()} despite its byte-order mark", path=str(p)) from None
            else:
                raw = raw[len(bom):]
            break
    else:
        if raw[:200].count(b"\x00") > 10:
            raise InputError("looks like UTF-16 without a byte-order mark; save it as UTF-8", path=str(p))
    for lineno, line in enumerate(raw.split(b"\n"), 1):
        if len(line) > MAX_LINE_BYTES:
            yield lineno, InputError(f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MB", path=str(p), line=lineno)
            continue
        try:
            yield lineno, line.decode("utf-8")
        except UnicodeDecodeError as e:
            yield lineno, InputError(f"not UTF-8 (byte 0x{line[e.start]:02x} at column {e.start + 1})", path=str(p),
                                     line=lineno)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a value a question can have")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _parse_line(line: str) -> Any:
    """JSON without NaN/Infinity and without numbers that overflow to infinity."""
    return json.loads(line, parse_constant=_reject_constant, parse_float=_finite_float)


def _content_problem(q: Question) -> str | None:
    """What makes a well-formed record unusable as a question, or None."""
    if not q.question.strip():
        return "field 'question' is empty"
    if not q.answer.strip():
        return "field 'answer' is empty"
    if q.type == "multiple_choice":
        if not q.choices:
            return "multiple_choice question without 'choices'"
        from scireflect.tools.verifiers.choice import gold_letter

        if gold_letter(q.answer, q.choices) is None:
            return (f"answer {q.answer[:40]!r} is neither an option letter (A-{chr(ord('A') + len(q.choices) - 1)}) "
                    "nor the text of one of the choices")
    if q.type == "proof" and not q.lean_statement:
        return "proof question without 'lean_statement'"
    return _unit_problem(q.unit)


def iter_questions(path: str | Path) -> Iterator[Question | InputError]:
    """Yield a Question or an InputError per non-blank line, in file order."""
    p = Path(path)
    seen: set[str] = set()
    for lineno, line in _lines(p):
        if isinstance(line, InputError):
            yield line
            continue
        if not line.strip():
            continue
        try:
            data = _parse_line(line)
        except json.JSONDecodeError as e:
            yield InputError(f"not valid JSON ({e.msg} at column {e.colno})", path=str(p), line=lineno)
            continue
        except RecursionError:
            yield InputError("JSON nested too deeply", path=str(p), line=lineno)
            continue
        except ValueError as e:
            yield InputError(str(e), path=str(p), line=lineno)
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
        except RecursionError:
            yield InputError("record nested too deeply", path=str(p), line=lineno)
            continue
        problem = _content_problem(q)
        if problem:  # skipped: a verdict against an unreadable reference means nothing
            yield InputError(problem, path=str(p), line=lineno)
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
