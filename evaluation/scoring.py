"""Scoring one model output against one benchmark item with the project's answer verifier.

Extraction is the pipeline's (``scireflect.tools.extract_answer``, the final response after any reasoning
block); the comparison is ``verify_answer`` with the item's options (relative tolerance, choices), on the
whole output, so the verifier picks the stated result the way it does in the pipeline. When the prompt
told the model the unit and it answered with a bare number, that number is compared with the bare
reference number, as SciBench does.
"""

from __future__ import annotations

import re
from typing import Any

from scireflect.schema import Question, Verdict
from scireflect.tools import extract_answer, verify_answer
from scireflect.tools.reasoning import split_reasoning

_BARE_NUMBER = re.compile(r"^[-+−]?\s*(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+−]?\d+)?$")
_LONE_CHOICE = re.compile(r"^\(?([A-J])\)?(?:[.):]|\s|$)")
# "(C) clouds on the Moon", "C) ...", "C. ...": a letter marked as an option label, then its text.
_LABELLED_CHOICE = re.compile(r"^(?:\(([A-J])\)|([A-J])[.):])(?:\s|$)")


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
        # SciBench's own grading: math.isclose(rel_tol) on every number, exact golds included.
        opts["tolerance" if q.metadata.get("format") == "scibench" else "rel_tol"] = q.tolerance
    if q.type == "multiple_choice" and q.choices:
        opts["choices"] = q.choices
    return opts


def reference(q: Question) -> str:
    """The reference as the verifier compares it: with its unit (SciBench's LaTeX unit, whose power of ten
    belongs to the value, included)."""
    if q.metadata.get("format") == "scibench" and q.metadata.get("unit_latex"):
        return f"{q.answer} {q.metadata['unit_latex']}"
    return q.gold


def _told_unit(q: Question) -> bool:
    return bool(q.unit or q.metadata.get("unit_latex"))


def _verify(pred: str, gold: str, q: Question) -> Verdict:
    try:
        return verify_answer(pred, gold, **verifier_options(q))
    except Exception as e:  # noqa: BLE001 - verify_answer is total; keep the run going if it is not
        return Verdict(verifier="answer", ok=False, reason="error", message=f"{type(e).__name__}: {e}")


def score(q: Question, output: str) -> dict[str, Any]:
    """Extracted answer, what was compared, and the verdict of one output (a JSON-ready dict)."""
    extracted = extract(q, output)
    if extracted is None:
        response = split_reasoning(output)
        reason, message = (("truncated_reasoning", "the output stopped inside its reasoning block")
                           if response.truncated else ("no_answer", "no final answer found"))
        verdict = Verdict(verifier="answer", ok=False, reason=reason, message=message)
        pred, gold = None, reference(q)
    else:
        # The whole output against the reference with its unit: the verifier extracts the answer itself, as
        # in the pipeline, preferring a stated result of the reference unit's dimension.
        gold = reference(q)
        if q.type == "multiple_choice":  # the letter found above (a lone letter on the last line counts)
            pred, verdict = extracted, _verify(extracted, gold, q)
        else:
            verdict = _verify(output, gold, q)
            pred = verdict.details.get("pred_answer", extracted)
        if not verdict.ok and _told_unit(q) and _BARE_NUMBER.match(extracted.strip()):
            # A bare number answers in the unit the prompt gave (SciBench's, power of ten included).
            pred, gold = extracted, q.answer
            verdict = _verify(pred, gold, q)
    return {"extracted": extracted, "compared": pred, "gold": gold,
            "verdict": verdict.model_dump(mode="json")}
