"""The ``answer`` verifier: is the attempt's final answer the reference answer?

First version: numbers with relative tolerance, exact fractions, multiple-choice letters,
normalized text. Parsing never evaluates code (no sympify on model output).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from scireflect.schema import Attempt, Question, Verdict
from scireflect.tools.extract import extract_answer
from scireflect.tools.verifiers.base import Verifier

DEFAULT_REL_TOL = 0.01
_NUM = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
_FRAC = re.compile(r"^([-+]?)\\?d?frac\{([-+]?\d+)\}\{(\d+)\}$|^([-+]?\d+)\s*/\s*(\d+)$")
_SCI = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+))\s*(?:\\times|\\cdot|×|\*)\s*10\^\{?([-+]?\d+)\}?$")


def _normalize(s: str) -> str:
    s = s.strip().strip("$").strip()
    s = re.sub(r"\\text\{([^}]*)\}|\\mathrm\{([^}]*)\}", lambda m: m.group(1) or m.group(2) or "", s)
    s = s.replace("−", "-").replace("\\,", "").replace("\\!", "").replace("{,}", "")
    return s.strip()


def parse_number(s: str) -> tuple[Fraction | float, bool] | None:
    """(value, exact) for a plain number, a fraction or scientific notation; None otherwise."""
    s = _normalize(s).replace(" ", "")
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", s):
        s = s.replace(",", "")
    if _NUM.match(s):
        exact = "." not in s and "e" not in s.lower()
        return (Fraction(int(s)) if exact else float(s)), exact
    m = _FRAC.match(s)
    if m:
        if m.group(2) is not None:
            sign = -1 if m.group(1) == "-" else 1
            return sign * Fraction(int(m.group(2)), int(m.group(3))), True
        return Fraction(int(m.group(4)), int(m.group(5))), True
    m = _SCI.match(s)
    if m:
        return float(m.group(1)) * 10.0 ** int(m.group(2)), False
    return None


def _split_unit(s: str) -> tuple[str, str]:
    s = _normalize(s)
    m = re.match(r"^\s*([-+]?[\d.,]+(?:[eE][-+]?\d+)?(?:\s*(?:\\times|\\cdot|×)\s*10\^\{?[-+]?\d+\}?)?)\s*(.*)$", s)
    if m:
        return m.group(1), m.group(2).strip()
    return s, ""


def _choice_letter(s: str) -> str | None:
    s = _normalize(s)
    m = re.fullmatch(r"\(?([A-Ha-h])[\).:]?", s.strip())
    if m:
        return m.group(1).upper()
    m = re.search(r"(?:answer|option|choice)\s*(?:is|:)?\s*\(?([A-Ha-h])\)?\b", s, re.IGNORECASE)
    return m.group(1).upper() if m else None


def verify_answer(pred: str | None, gold: str, *, rel_tol: float | None = None,
                  choices: list[str] | None = None, **_: Any) -> Verdict:
    """Compare a predicted final answer with the gold. Total."""
    name = "answer"
    if pred is None or not str(pred).strip():
        return Verdict(verifier=name, ok=False, reason="no_answer", message="no final answer found")
    pred_s, gold_s = str(pred), str(gold)
    extracted = extract_answer(pred_s) or pred_s
    details: dict[str, Any] = {"pred": extracted[:500]}
    if choices:
        g = _choice_letter(gold_s) or gold_s.strip()
        p = _choice_letter(extracted)
        if p is None:
            for i, c in enumerate(choices):
                if _normalize(c).lower() == _normalize(extracted).lower():
                    p = chr(ord("A") + i)
        details.update(pred_choice=p)
        ok = p is not None and p == g.upper()
        return Verdict(verifier=name, ok=ok, score=float(ok), reason="equal" if ok else "unequal",
                       message="choice matches" if ok else f"choice {p or '?'} is not the reference choice",
                       details=details)
    pv_s, pu = _split_unit(extracted)
    gv_s, gu = _split_unit(gold_s)
    pv, gv = parse_number(pv_s), parse_number(gv_s)
    if pv is not None and gv is not None:
        (p_val, _), (g_val, g_exact) = pv, gv
        tol = rel_tol if rel_tol is not None else (0.0 if g_exact else DEFAULT_REL_TOL)
        tol = max(tol, 1e-9)
        diff = abs(float(p_val) - float(g_val))
        ok = diff <= tol * abs(float(g_val)) if g_val != 0 else diff <= 1e-12
        details.update(pred_value=float(p_val), pred_unit=pu, rel_tol=tol)
        return Verdict(verifier=name, ok=ok, score=float(ok), reason="equal" if ok else "unequal",
                       message=("values agree within tolerance" if ok else
                                f"value {float(p_val):g} does not agree within relative tolerance {tol:g}"),
                       details=details)
    ok = _normalize(extracted).lower().replace(" ", "") == _normalize(gold_s).lower().replace(" ", "")
    return Verdict(verifier=name, ok=ok, score=float(ok), reason="equal" if ok else "unequal",
                   message="answers match as text" if ok else "answers differ", details=details)


class AnswerVerifier(Verifier):
    """Final-answer equivalence against the question's reference answer."""

    name = "answer"
    description = "final answer against the reference (numbers with tolerance, fractions, choices)"
    types = ("numeric", "symbolic", "multiple_choice", "free")

    def check(self, question: Question, attempt: Attempt) -> Verdict:
        pred = attempt.extracted_answer if attempt.extracted_answer is not None else extract_answer(attempt.solution)
        opts = dict(self.options)
        if question.tolerance is not None:
            opts["rel_tol"] = question.tolerance
        if question.type == "multiple_choice" and question.choices:
            opts["choices"] = question.choices
        return verify_answer(pred, question.gold, **opts)
