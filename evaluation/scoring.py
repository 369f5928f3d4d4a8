"""Scoring one model output against one benchmark item with the project's answer verifier.

Extraction is ``scireflect.tools.extract_answer``; the comparison is ``verify_answer`` with the item's
options (relative tolerance, choices). When the prompt told the model the unit, a bare number is
compared with the bare reference number, as SciBench does.
"""

from __future__ import annotations

import re
from typing import Any

from scireflect.schema import Question, Verdict
from scireflect.tools import extract_answer, verify_answer

_LEADING_NUMBER = re.compile(
    r"^\s*(?P<num>[-+−]?\s*(?:\d[\d,]*\.?\d*|\.\d+)"
    r"(?:\s*(?:[eE][-+−]?\d+|(?:\\times|\\cdot|×)\s*10\^\{?[-+−]?\d+\}?))?)")
_BARE_NUMBER = re.compile(r"^[-+−]?\s*(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+−]?\d+)?$")
_LONE_CHOICE = re.compile(r"^\(?([A-J])\)?(?:[.):]|\s|$)")
# "(C) clouds on the Moon", "C) ...", "C. ...": a letter marked as an option label, then its text.
_LABELLED_CHOICE = re.compile(r"^(?:\(([A-J])\)|([A-J])[.):])(?:\s|$)")


def leading_number(answer: str) -> str | None:
    """The number an answer starts with, unit dropped ("50.7 atm" -> "50.7")."""
    m = _LEADING_NUMBER.match(answer.strip().strip("$"))
    return m.group("num").replace(" ", "") if m else None


def extract(q: Question, output: str) -> str | None:
    """The final answer of an output; for multiple choice also a lone letter on the last line."""
    ans = extract_answer(output)
    if q.type != "multiple_choice" or not output.strip():
        return ans
    n = len(q.choices or [])
    if ans is None:
        m = _LONE_CHOICE.match(output.strip().splitlines()[-1].strip())
        letter = m.group(1) if m else None
    else:
        m = _LABELLED_CHOICE.match(ans.strip())
        letter = (m.group(1) or m.group(2)) if m else None
    if letter and "ABCDEFGHIJ".index(letter) < n:
        return letter
    return ans


def verifier_options(q: Question) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if q.tolerance is not None:
        opts["rel_tol"] = q.tolerance
    if q.type == "multiple_choice" and q.choices:
        opts["choices"] = q.choices
    return opts


def compared(q: Question, extracted: str) -> tuple[str, str]:
    """(prediction, reference) as handed to the verifier."""
    if q.metadata.get("format") == "scibench":
        # SciBench gives the unit in the prompt and compares numbers in that unit.
        return leading_number(extracted) or extracted, q.answer
    if q.unit and _BARE_NUMBER.match(extracted.strip()):
        return extracted, q.answer  # the model answered in the unit it was told
    return extracted, q.gold


def score(q: Question, output: str) -> dict[str, Any]:
    """Extracted answer, what was compared, and the verdict of one output (a JSON-ready dict)."""
    extracted = extract(q, output)
    if extracted is None:
        verdict = Verdict(verifier="answer", ok=False, reason="no_answer", message="no final answer found")
        pred, gold = None, q.gold
    else:
        pred, gold = compared(q, extracted)
        try:
            verdict = verify_answer(pred, gold, **verifier_options(q))
        except Exception as e:  # noqa: BLE001 - verify_answer is total; keep the run going if it is not
            verdict = Verdict(verifier="answer", ok=False, reason="error", message=f"{type(e).__name__}: {e}")
    return {"extracted": extracted, "compared": pred, "gold": gold,
            "verdict": verdict.model_dump(mode="json")}
