"""Per-format benchmark parsers: each turns one file into Questions, and each bad record into an
InputError naming the file and line (or item) so the rest of the file still loads.

Formats: ``scireflect`` JSONL (``scireflect.schema.Question`` lines), ``scibench`` problem files
(number and unit in separate fields, scored at 5% relative tolerance), ``mmlu`` multiple choice
(MMLU's header-less CSV or JSONL with ``choices``), ``math`` (MATH-style ``\\boxed{}`` solutions).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterator

from pydantic import ValidationError

from scireflect.errors import InputError
from scireflect.questions import iter_questions
from scireflect.schema import Question
from scireflect.tools.extract import last_boxed

FORMATS = ("scireflect", "scibench", "mmlu", "math")
SCIBENCH_REL_TOL = 0.05  # SciBench counts an answer correct within 5% relative error
LETTERS = "ABCDEFGHIJ"

Parsed = Iterator["Question | InputError"]


# --- reading records ------------------------------------------------------------------------

def read_records(path: Path) -> Iterator[tuple[int, Any] | InputError]:
    """(position, record) pairs of a JSON list, a single JSON object or a JSONL file.

    Position is the line number for JSONL and the 1-based item number for a JSON list."""
    text = _read_text(path)
    stripped = text.lstrip()
    if path.suffix == ".json" or (stripped.startswith("[") and path.suffix != ".jsonl"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            yield InputError(f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})", path=str(path))
            return
        for i, rec in enumerate(data if isinstance(data, list) else [data], 1):
            yield i, rec
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as e:
            yield InputError(f"not valid JSON ({e.msg} at column {e.colno})", path=str(path), line=lineno)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read benchmark file: {e}", path=str(path)) from e


def _err(path: Path, pos: int, msg: str) -> InputError:
    # JSON lists have no useful line numbers; name the item instead.
    if path.suffix == ".json":
        return InputError(f"item {pos}: {msg}", path=str(path))
    return InputError(msg, path=str(path), line=pos)


def _text(rec: dict[str, Any], key: str) -> str:
    v = rec.get(key)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"missing or empty field {key!r}")
    return v.strip()


def _records(path: Path, build: Callable[[dict[str, Any], int], Question]) -> Parsed:
    """Apply ``build`` to each record, turning its failures into InputErrors; ids stay unique."""
    seen: dict[str, int] = {}
    for got in read_records(path):
        if isinstance(got, InputError):
            yield got
            continue
        pos, rec = got
        if not isinstance(rec, dict):
            yield _err(path, pos, "a record must be a JSON object")
            continue
        try:
            q = build(rec, pos)
        except (ValueError, TypeError, ValidationError) as e:
            msg = e.errors()[0]["msg"] if isinstance(e, ValidationError) else str(e)
            yield _err(path, pos, msg)
            continue
        yield _unique(q, seen)


def _unique(q: Question, seen: dict[str, int]) -> Question:
    # Source files repeat problem ids now and then (SciBench has three); keep both, distinguishable.
    n = seen.get(q.id, 0)
    seen[q.id] = n + 1
    return q if n == 0 else q.model_copy(update={"id": f"{q.id}#{n + 1}"})


# --- scireflect JSONL -------------------------------------------------------------------------

def parse_scireflect(path: Path) -> Parsed:
    for q in iter_questions(path):
        if isinstance(q, Question):
            q.metadata.setdefault("format", "scireflect")
        yield q


# --- SciBench ---------------------------------------------------------------------------------

def clean_number(s: str) -> str:
    """SciBench writes numbers as "+65.49", "89,034.79" or with a Unicode minus; make them plain."""
    s = s.strip().replace("−", "-").replace("–", "-")
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", s):
        s = s.replace(",", "")
    return s.lstrip("+")


def parse_scibench(path: Path) -> Parsed:
    def build(rec: dict[str, Any], pos: int) -> Question:
        number = clean_number(_text(rec, "answer_number"))
        if not re.fullmatch(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", number):
            raise ValueError(f"answer_number {rec['answer_number']!r} is not a number")
        source = str(rec.get("source") or path.stem.removesuffix("_sol")).strip()
        pid = str(rec.get("problemid") or pos).strip()
        meta = {"format": "scibench", "unit_latex": str(rec.get("unit") or "").strip(),
                "answer_latex": str(rec.get("answer_latex") or "").strip(), "problemid": pid}
        if isinstance(rec.get("solution"), str) and rec["solution"].strip():
            meta["solution"] = rec["solution"].strip()
        # The unit stays out of Question.unit: SciBench gives it to the model and compares numbers only.
        return Question(id=f"{source}/{pid}", question=_text(rec, "problem_text"), answer=number,
                        subject=source, type="numeric", tolerance=SCIBENCH_REL_TOL, source="scibench",
                        metadata=meta)

    yield from _records(path, build)


# --- MMLU-style multiple choice ---------------------------------------------------------------

def mmlu_subject(path: Path) -> str:
    """MMLU names files ``college_physics_test.csv``; the subject is the name without the split."""
    return re.sub(r"[_.-](test|dev|val|validation|train)$", "", path.stem) or path.stem


def _letter(answer: Any, n: int) -> str:
    if isinstance(answer, int) and not isinstance(answer, bool):
        idx = answer
    else:
        s = str(answer).strip().strip("()").upper()
        if len(s) == 1 and s in LETTERS:
            idx = LETTERS.index(s)
        elif s.isdigit():
            idx = int(s)
        else:
            raise ValueError(f"answer {answer!r} is not a choice letter or index")
    if not 0 <= idx < n:
        raise ValueError(f"answer {answer!r} is outside the {n} choices")
    return LETTERS[idx]


def _mc_question(qid: str, question: str, choices: list[str], answer: Any, subject: str,
                 extra: dict[str, Any]) -> Question:
    if len(choices) < 2 or any(not str(c).strip() for c in choices):
        raise ValueError("needs at least two non-empty choices")
    return Question(id=qid, question=question, answer=_letter(answer, len(choices)), subject=subject,
                    type="multiple_choice", choices=[str(c).strip() for c in choices], source="mmlu",
                    metadata={"format": "mmlu", **extra})


def parse_mmlu(path: Path) -> Parsed:
    subject = mmlu_subject(path)
    if path.suffix == ".csv":
        yield from _parse_mmlu_csv(path, subject)
        return

    def build(rec: dict[str, Any], pos: int) -> Question:
        choices = rec.get("choices")
        if not isinstance(choices, list):
            choices = [rec[k] for k in "ABCDEFGHIJ" if k in rec]
        qid = str(rec.get("id") or f"{path.stem}/{pos}")
        extra = {"solution": rec["solution"]} if isinstance(rec.get("solution"), str) else {}
        return _mc_question(qid, _text(rec, "question"), choices, rec.get("answer", ""),
                            str(rec.get("subject") or subject), extra)

    yield from _records(path, build)


def _parse_mmlu_csv(path: Path, subject: str) -> Parsed:
    text = _read_text(path)
    seen: dict[str, int] = {}
    for lineno, row in enumerate(csv.reader(text.splitlines()), 1):
        if not row or not any(c.strip() for c in row):
            continue
        try:
            if len(row) < 4:
                raise ValueError(f"expected question, choices and answer columns, got {len(row)} columns")
            q = _mc_question(f"{path.stem}/{lineno}", row[0].strip(), row[1:-1], row[-1], subject, {})
        except (ValueError, ValidationError) as e:
            msg = e.errors()[0]["msg"] if isinstance(e, ValidationError) else str(e)
            yield InputError(msg, path=str(path), line=lineno)
            continue
        yield _unique(q, seen)


# --- MATH-style ---------------------------------------------------------------------------------

def parse_math(path: Path) -> Parsed:
    def build(rec: dict[str, Any], pos: int) -> Question:
        solution = rec.get("solution") if isinstance(rec.get("solution"), str) else None
        answer = rec.get("answer")
        if answer is None or not str(answer).strip():
            answer = last_boxed(solution or "")
            if not answer:
                raise ValueError("no 'answer' field and no \\boxed{} answer in 'solution'")
        subject = str(rec.get("subject") or rec.get("type") or "math").strip()
        qid = str(rec.get("unique_id") or rec.get("id") or f"{path.stem}/{pos}")
        meta: dict[str, Any] = {"format": "math"}
        if solution:
            meta["solution"] = solution
        if rec.get("level") is not None:
            meta["level"] = rec["level"]
        return Question(id=qid, question=_text(rec, "problem"), answer=str(answer).strip(), subject=subject,
                        type="symbolic", source="math", metadata=meta)

    yield from _records(path, build)


PARSERS: dict[str, Callable[[Path], Parsed]] = {
    "scireflect": parse_scireflect, "scibench": parse_scibench, "mmlu": parse_mmlu, "math": parse_math,
}


# --- detection ----------------------------------------------------------------------------------

def detect_format(path: Path) -> str:
    """The format of a file from its extension and the keys of its first record."""
    if path.suffix == ".csv":
        return "mmlu"
    for got in read_records(path):
        if isinstance(got, InputError):
            continue
        rec = got[1]
        if not isinstance(rec, dict):
            continue
        keys = set(rec)
        if {"problem_text", "answer_number"} <= keys:
            return "scibench"
        if "problem" in keys and ({"solution", "answer"} & keys):
            return "math"
        # A scireflect multiple-choice line also has "choices"; MMLU records have no "type".
        if {"question", "answer"} <= keys <= set(Question.model_fields) and not ("choices" in keys
                                                                                and "type" not in keys):
            return "scireflect"
        if "question" in keys and ("choices" in keys or {"A", "B"} <= keys):
            return "mmlu"
        raise InputError(f"cannot tell the benchmark format from the keys {sorted(keys)[:8]}; "
                         f"name it with --format ({', '.join(FORMATS)})", path=str(path))
    raise InputError("no records to detect the benchmark format from", path=str(path))
