"""Labelled answer tables for regression tests and ``bench/answer_equiv.py``.

A table is JSONL, one case a line: ``id``, ``pred`` (a model output or worked solution), ``gold`` (the
reference, with its unit when it has one), ``equal`` (the verdict a careful human grader gives),
``category``, ``source``, ``note``. The tables shipped in ``tests/regress/`` are read with
:func:`load_table`; the SciBench worked solutions are built from the SciBench files themselves
(:func:`scibench_cases`), with wrong-gold controls, so no SciBench text is copied into the repository.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable

REPO = Path(__file__).resolve().parents[2]
REGRESS = REPO / "tests" / "regress"
SHARED = REPO.parent / "shared"
SCIBENCH = SHARED / "scibench"
DEV_SET = SHARED / "answer_equiv" / "answer_equiv_dev.jsonl"

# The worked solution states a different result than the file's answer_number (the solution computes
# 5/9 * 5/10 + 4/9 * 4/10 = 41/90 = 0.456; answer_number says 0.444). A grader holds the two unequal.
SCIBENCH_GOLD_ERRORS = {"stat/Example 1.3.10": "the solution's 41/90 = 0.456 is not answer_number 0.444"}

CONTROLS = (("x1.5", Decimal("1.5")), ("x0.5", Decimal("0.5")), ("neg", Decimal("-1")))


def load_table(path: str | Path) -> list[dict[str, Any]]:
    """The cases of one JSONL table; a line that is not a case is a ValueError naming file and line."""
    p = Path(path)
    cases = []
    with p.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{p}:{n}: not JSON: {e.msg}") from None
            missing = {"id", "pred", "gold", "equal"} - set(case)
            if missing:
                raise ValueError(f"{p}:{n}: missing {', '.join(sorted(missing))}")
            cases.append(case)
    return cases


def _gold(number: str, unit: str) -> str:
    return f"{number} {unit}" if unit else number


def _scaled(number: str, factor: Decimal) -> str | None:
    try:
        value = Decimal(number.replace(",", "").lstrip("+"))
    except InvalidOperation:
        return None
    if value == 0:
        return "1" if factor > 0 else None  # a wrong gold for a zero answer; "-0" would still be right
    return format(value * factor, "f")


def scibench_cases(directory: str | Path = SCIBENCH, controls: bool = True) -> list[dict[str, Any]]:
    """SciBench's worked textbook solutions (``*_sol.json``) as cases: pred = the solution, gold =
    ``answer_number`` with its ``unit`` as SciBench writes it (LaTeX, power of ten and all), equal = True
    except for :data:`SCIBENCH_GOLD_ERRORS`. With ``controls``, each solution also against its gold x1.5,
    x0.5 and with the sign flipped (equal = False)."""
    cases: list[dict[str, Any]] = []
    for path in sorted(Path(directory).glob("*_sol.json")):
        for i, rec in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            source, pid = str(rec.get("source", path.stem)).strip(), str(rec.get("problemid", i)).strip()
            key = f"{source}/{pid}"
            number, unit = str(rec["answer_number"]).strip(), str(rec.get("unit") or "").strip()
            base = {"pred": rec["solution"], "source": f"scibench:{path.name}", "category": f"scibench_{source}"}
            error = SCIBENCH_GOLD_ERRORS.get(key)
            cases.append({**base, "id": f"{key}#{i}", "gold": _gold(number, unit), "equal": error is None,
                          "note": error or "worked textbook solution, correct"})
            if not controls:
                continue
            for name, factor in CONTROLS:
                wrong = _scaled(number, factor)
                if wrong is not None:
                    cases.append({**base, "id": f"{key}#{i}/{name}", "gold": _gold(wrong, unit), "equal": False,
                                  "category": "scibench_control", "note": f"wrong-gold control ({name})"})
    return cases


def tables() -> dict[str, Path]:
    """The labelled tables shipped with the tests, by name."""
    return {p.stem: p for p in sorted(REGRESS.glob("*.jsonl"))}


def score(cases: Iterable[dict[str, Any]], verdicts: Iterable[Any]) -> dict[str, Any]:
    """Accuracy, false accepts and false rejects of ``verdicts`` (objects with ``ok``, or bools), with the
    misses listed. A timeout counts as a reject."""
    n = correct = fa = fr = 0
    misses = []
    for case, v in zip(cases, verdicts):
        ok = bool(getattr(v, "ok", v))
        n += 1
        if ok == bool(case["equal"]):
            correct += 1
            continue
        fa += ok
        fr += not ok
        misses.append({"id": case["id"], "equal": case["equal"], "got": ok,
                       "reason": getattr(v, "reason", None),
                       "pred_answer": (getattr(v, "details", None) or {}).get("pred_answer")})
    return {"n": n, "correct": correct, "accuracy": correct / n if n else 0.0, "false_accepts": fa,
            "false_rejects": fr, "misses": misses}
