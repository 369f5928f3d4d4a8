"""The ``answer`` verifier: is the attempt's final answer the reference answer?

The main process only screens and routes: the comparison itself (math-verify, sympy, pint) runs in the
sandboxed worker pool (:mod:`pool`), so no model-written string is parsed here. Two exceptions decided with
regular expressions and short exact arithmetic: identical answers, and an answer and reference that are
both plain decimal numerals (``_PLAIN_NUMBER``), which get the pool's verdict without the round trip.
Semantics and options: :mod:`options` and ``docs/verifiers.md``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from typing import Any

from scireflect.schema import Attempt, Question, Verdict
from scireflect.tools.verifiers.base import Verifier
from scireflect.tools.verifiers.options import AnswerOptions
from scireflect.tools.verifiers.pool import TaskResult, get_pool

log = logging.getLogger(__name__)

NAME = "answer"
# Text no mathematical answer contains but Python payloads do. Refused before it reaches any parser;
# the worker's audit hook is the second line of defence when screening is switched off.
_CODE_LIKE = re.compile(
    r"__|(?<![\\\w])lambda\b\s*[\w\s,*]*:|\bimport\b|\b(?:eval|exec|compile|getattr|setattr|globals|locals|"
    r"open|breakpoint|vars|dir)\s*\(|\bsubprocess\b|\bos\s*\.\s*(?:system|popen|exec\w*|spawn\w*|remove)\b")

_STATUS_REASON = {"timeout": "timeout", "too_large": "too_large", "crashed": "error", "error": "error"}


def code_like(text: str) -> bool:
    return bool(_CODE_LIKE.search(text))


def _verdict(ok: bool, reason: str, message: str, **details: Any) -> Verdict:
    return Verdict(verifier=NAME, ok=ok, score=1.0 if ok else 0.0, reason=reason, message=message,
                   details=details)


def _precheck(pred: Any, gold: Any, o: AnswerOptions) -> Verdict | None:
    if pred is None or not str(pred).strip():
        return _verdict(False, "no_answer", "no final answer found")
    if gold is None or not str(gold).strip():
        return _verdict(False, "error", "the question has no reference answer")
    pred_s, gold_s = str(pred), str(gold)
    if len(pred_s) > o.max_chars:
        return _verdict(False, "too_large", f"answer is {len(pred_s)} characters; the limit is {o.max_chars}")
    if len(gold_s) > o.max_chars:
        return _verdict(False, "too_large", f"reference answer longer than {o.max_chars} characters")
    if o.screen and code_like(pred_s):
        return _verdict(False, "parse_error", "answer contains program-like text and was not parsed",
                        screened=True)
    return None


def _payload(pred: str, gold: str, o: AnswerOptions) -> dict[str, Any]:
    opts = {k: v for k, v in dataclasses.asdict(o).items() if k not in ("extra", "preset")}
    return {"pred": pred, "gold": gold, "options": opts}


def _from_result(res: TaskResult, o: AnswerOptions) -> Verdict:
    if res.ok and isinstance(res.result, dict):
        r = res.result
        details = dict(r.get("details") or {})
        details["elapsed_s"] = round(res.elapsed_s, 4)
        return _verdict(bool(r.get("ok")), str(r.get("reason", "error")), str(r.get("message", "")), **details)
    reason = _STATUS_REASON.get(res.status, "error")
    messages = {"timeout": f"no verdict within the {o.timeout_s:g} s limit",
                "too_large": "answer too large to check within the memory limit"}
    return _verdict(False, reason, messages.get(reason, f"checker failed: {res.error}"),
                    worker_status=res.status, worker_error=res.error[:500], elapsed_s=round(res.elapsed_s, 4))


def verify_answer(pred: str | None, gold: str, **options: Any) -> Verdict:
    """Is ``pred`` (a final answer or a whole solution) the same answer as ``gold``?

    Total for any ``pred``: always a Verdict (``reason`` in equal, unequal, dimension_mismatch, no_answer,
    timeout, too_large, parse_error, error). Unknown option names raise :class:`VerifierError`.
    """
    o = AnswerOptions.build(**options)
    early = _quick(pred, gold, o)
    if early is not None:
        return early
    res = get_pool().call("answer", _payload(str(pred), str(gold), o), timeout_s=o.timeout_s)
    return _from_result(res, o)


def _quick(pred: str | None, gold: str, o: AnswerOptions) -> Verdict | None:
    """The verdicts reached without the worker pool: missing, oversized, screened or identical answers, and
    two plain decimal numerals."""
    early = _precheck(pred, gold, o)
    if early is not None:
        return early
    from scireflect.tools.extract import extract_answer
    from scireflect.tools.verifiers.equiv import _gold_answer

    pred_s = str(pred)
    pred_ans, gold_ans = extract_answer(pred_s) or pred_s.strip(), _gold_answer(str(gold))
    same = _identical(pred_ans, gold_ans)
    return same if same is not None else _plain_numbers(pred_s, pred_ans, str(gold), gold_ans, o)


def _identical(pred_ans: str, gold_ans: str) -> Verdict | None:
    """Identical final answers need no parsing (regular expressions only, safe in this process)."""
    from scireflect.tools.verifiers.equiv import identical

    if len(pred_ans) <= 20_000 and identical(pred_ans, gold_ans):
        return _verdict(True, "equal", "answers are identical", method="identical", pred_answer=pred_ans[:300])
    return None


# Digits with an optional sign and decimal point, at most 40 a side: no exponent, unit, separator or LaTeX.
_PLAIN_NUMBER = re.compile(r"[-+]?\d{1,40}(?:\.\d{1,40})?")


def _plain_numbers(pred: str, pred_ans: str, gold: str, gold_ans: str, o: AnswerOptions) -> Verdict | None:
    """Two plain decimal numerals are compared in this process: for them the pool's procedure is exact
    arithmetic on short Fractions (no pint, no sympy), and a thread hop and a worker round trip cost more
    than the comparison. The verdict is the one the pool would give."""
    if o.choices or o.multiple_choice == "on":
        return None
    if not (_PLAIN_NUMBER.fullmatch(pred_ans) and _PLAIN_NUMBER.fullmatch(gold_ans)):
        return None
    from scireflect.tools.verifiers.equiv import compare

    t0 = time.perf_counter()
    r = compare(pred, gold, o)
    return _verdict(bool(r["ok"]), str(r["reason"]), str(r["message"]),
                    **{**r["details"], "elapsed_s": round(time.perf_counter() - t0, 4)})


async def averify_answer(pred: str | None, gold: str, **options: Any) -> Verdict:
    """:func:`verify_answer` for asyncio code (the blocking pool call runs in a thread)."""
    return await asyncio.to_thread(verify_answer, pred, gold, **options)


_FIELDS = {f.name for f in dataclasses.fields(AnswerOptions)} - {"extra"}


class AnswerVerifier(Verifier):
    """Final-answer equivalence against the question's reference answer (numbers, units, maths, choices)."""

    name = "answer"
    description = "final answer against the reference: math-verify, pint units, tolerances, multiple choice"
    types = ("numeric", "symbolic", "multiple_choice", "free")

    def __init__(self, **options: Any):
        super().__init__(**options)
        # Options meant for other verifiers (the graph may pass one dict to all) are ignored here.
        self.answer_options = {k: v for k, v in options.items() if k in _FIELDS}
        AnswerOptions.build(**self.answer_options)  # a bad value fails when the verifier is created

    def options_for(self, question: Question) -> dict[str, Any]:
        opts = dict(self.answer_options)
        if question.tolerance is not None:
            opts["tolerance"] = question.tolerance
        if question.choices:
            opts["choices"] = list(question.choices)
        if question.type == "multiple_choice":
            opts.setdefault("multiple_choice", "on" if question.choices else "auto")
        return opts

    def check(self, question: Question, attempt: Attempt) -> Verdict:
        return verify_answer(_pred(attempt), question.gold, **self.options_for(question))

    def quick_check(self, question: Question, attempt: Attempt) -> Verdict | None:
        return _quick(_pred(attempt), question.gold, AnswerOptions.build(**self.options_for(question)))


def _pred(attempt: Attempt) -> str:
    """The whole solution, so the checker can prefer a stated result of the reference's kind; an extracted
    answer set to something other than what extraction finds (a caller's own) is checked as given."""
    from scireflect.tools.extract import extract_answer

    given = attempt.extracted_answer
    if given and given != extract_answer(attempt.solution):
        return given
    return attempt.solution
