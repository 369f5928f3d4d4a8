"""Labeled solutions for the quality classifier: read and check a labels JSONL file.

One line per solution. ``label`` is 1 (good: correct and well reasoned) or 0 (bad), also written as
true/false or "good"/"bad". The solution comes in one of three shapes:

- ``"trace"``: a whole stored trace (as ``scireflect traces export`` writes it);
- ``"attempts"``: a list of attempts (stage, round, solution, verdicts, retrieved, critique);
- ``"solution"``: one solution text, with optional ``stage``, ``verdicts`` and ``retrieved``.

Plus ``question`` (a Question object, or its text) and, optionally, ``id``, ``kind`` (good,
wrong_answer, truncated, answer_only, unjustified_leap, copied_reference, circular, unit_error),
``answer_shown`` and ``source``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from scireflect.errors import InputError
from scireflect.schema import STATUS_BY_STAGE, Attempt, Question, Trace

_TRUE = {1, "1", "good", "pos", "positive", "true", "yes"}
_FALSE = {0, "0", "bad", "neg", "negative", "false", "no"}


@dataclass
class LabeledTrace:
    trace: Trace
    label: int
    kind: str
    line: int
    group: str  # question id: CV folds keep all solutions of one question together


def parse_label(value: Any) -> int | None:
    if isinstance(value, str):
        value = value.strip().lower()
    if isinstance(value, float) and value in (0.0, 1.0):
        value = int(value)
    if value in _TRUE:
        return 1
    if value in _FALSE:
        return 0
    return None


def _question(obj: Any, idx: str) -> Question:
    if isinstance(obj, str):
        return Question(id=idx, question=obj, answer="")
    if isinstance(obj, dict):
        data = {"id": idx, "answer": "", **obj}
        return Question.model_validate(data)
    raise ValueError("question must be an object or a string")


def trace_from_obj(obj: dict[str, Any], default_id: str) -> Trace:
    """A Trace from one labels/trace line (any of the three shapes)."""
    if "trace" in obj:
        return Trace.model_validate(obj["trace"])
    if "question_id" in obj and "attempts" in obj and "status" in obj:  # a bare stored trace
        return Trace.model_validate(obj)
    q = obj.get("question")
    qid = str(obj.get("question_id") or (q.get("id") if isinstance(q, dict) else None) or default_id)
    question = _question(obj["question"], qid) if obj.get("question") is not None else None
    if "attempts" in obj:
        attempts = [Attempt.model_validate(a) for a in obj["attempts"]]
    elif "solution" in obj:
        attempts = [Attempt(stage=obj.get("stage", "cot"), solution=str(obj["solution"]),
                            extracted_answer=obj.get("extracted_answer"),
                            verdicts=obj.get("verdicts") or [], retrieved=obj.get("retrieved") or [])]
    else:
        raise ValueError('needs "trace", "attempts" or "solution"')
    if not attempts:
        raise ValueError("attempts is empty")
    return Trace(id=str(obj.get("id") or default_id), question_id=question.id if question else qid,
                 question=question, attempts=attempts, status=STATUS_BY_STAGE[attempts[-1].stage],
                 answer_shown=bool(obj.get("answer_shown", attempts[-1].stage == "with_answer")))


def _parse_line(text: str, path: str, lineno: int) -> LabeledTrace:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON: {e.msg} (column {e.colno})", path=path, line=lineno) from e
    if not isinstance(obj, dict):
        raise InputError("each line must be a JSON object", path=path, line=lineno)
    if "label" not in obj or obj["label"] is None:
        raise InputError('missing "label" (1 = good solution, 0 = bad)', path=path, line=lineno)
    label = parse_label(obj["label"])
    if label is None:
        raise InputError(f'"label" must be 1/0, true/false or good/bad, not {obj["label"]!r}',
                         path=path, line=lineno)
    try:
        trace = trace_from_obj(obj, f"{Path(path).stem}:{lineno}")
    except (ValidationError, ValueError, TypeError, KeyError) as e:
        msg = e.errors()[0]["msg"] if isinstance(e, ValidationError) else str(e)
        raise InputError(f"bad labeled solution: {msg}", path=path, line=lineno) from e
    kind = str(obj.get("kind") or ("good" if label else "bad"))
    group = str(obj.get("group") or trace.question_id)
    return LabeledTrace(trace=trace, label=label, kind=kind, line=lineno, group=group)


def load_labels(path: str | Path) -> list[LabeledTrace]:
    """Every labeled solution of a JSONL file; the first bad line raises InputError with file:line."""
    p = Path(path)
    if not p.is_file():
        raise InputError("labeled file not found", path=str(p))
    out = []
    with p.open(encoding="utf-8") as f:
        for lineno, text in enumerate(f, start=1):
            if text.strip() and not text.lstrip().startswith("//"):
                out.append(_parse_line(text, str(p), lineno))
    return out


def check_trainable(examples: list[LabeledTrace], path: str, min_per_class: int) -> None:
    """Raise InputError unless both classes are present with enough examples to train and validate."""
    counts = Counter(e.label for e in examples)
    if not examples:
        raise InputError("no labeled solutions in the file", path=path)
    if len(counts) < 2:
        only = "good (1)" if 1 in counts else "bad (0)"
        raise InputError(f"only one class: all {len(examples)} solutions are labeled {only}; "
                         "the classifier needs good and bad examples", path=path)
    few = {("good" if k else "bad"): n for k, n in counts.items() if n < min_per_class}
    if few:
        detail = ", ".join(f"{n} {k}" for k, n in sorted(few.items()))
        raise InputError(f"too few examples: {detail} (at least {min_per_class} of each class are needed; "
                         "see SCIREFLECT_CLASSIFIER_MIN_PER_CLASS)", path=path)
