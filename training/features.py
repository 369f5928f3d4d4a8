"""Features of a whole trace for the quality classifier: the texts it reads and the structure it counts.

The classifier's pipeline holds only scikit-learn objects (so it can be persisted safely with skops);
this module turns traces into the plain table those objects read: column 0 the question text,
column 1 the accepted solution, then the numeric structure features in ``STRUCT_FEATURES`` order.
Changing a feature, its order or its meaning needs a new ``FEATURE_SCHEMA_VERSION``.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable

from scireflect.schema import Attempt, Trace, Verdict

FEATURE_SCHEMA_VERSION = 1

TEXT_COLUMNS = ("question", "solution")
STRUCT_FEATURES: tuple[str, ...] = (
    "required_ok_share",      # share of required verdicts that are ok
    "answer_ok",              # the answer verifier said ok
    "no_answer",              # some verifier found no final answer
    "unit_problem",           # a verifier reported a unit or dimension mismatch
    "answer_unit_match",      # 1 the final answer carries the question's unit, 0 another one, 0.5 unknown
    "steps_present",          # a step verifier looked at the derivation
    "steps_checked_share",    # checked steps / (checked + unchecked)
    "steps_passed_share",     # passed steps / checked steps
    "steps_failed",           # number of steps found wrong
    "stage_cot", "stage_reflection", "stage_with_answer",
    "answer_shown",
    "n_attempts",
    "log_chars", "log_words", "n_lines",
    "n_equations", "equations_per_line",
    "n_numbers", "question_numbers_used",  # share of the question's numbers that appear in the solution
    "has_boxed", "has_answer_line", "extracted_answer",
    "ends_cleanly",           # last character closes a sentence or formula (not cut off)
    "answer_first_position",  # where the final answer first appears (0 start .. 1 end)
    "answer_mentions",
    "reference_phrases",      # "the reference/expected/given answer is ..."
    "reasoning_words",        # because, therefore, so, since, substituting, ...
    "retrieved_n", "cites_chunk",
    "question_log_chars",
)

_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?")
_EQUATION_LINE = re.compile(r"=|\\approx|\\rightarrow|\\Rightarrow")
_DISPLAY_MATH = re.compile(r"\$\$|\\\[|\\begin\{(?:aligned|align|equation)")
_ANSWER_LINE = re.compile(r"(?:final answer|the answer is|answer:)", re.IGNORECASE)
_REFERENCE = re.compile(r"(?:reference|expected|given|provided|correct|official)\s+(?:final\s+)?answer"
                        r"|answer\s+(?:key|given)|we (?:are|were) told the answer", re.IGNORECASE)
_REASONING = re.compile(r"\b(?:because|therefore|thus|hence|so that|since|substitut\w*|using|gives|"
                        r"follows|rearrang\w*|solv\w+ for|plug\w*)\b", re.IGNORECASE)
_CHUNK_CITE = re.compile(r"\[[\w:.\-/#]{2,}\]")
_CLEAN_END = tuple(".!?}$)]") + ("\\]",)
_UNIT_REASONS = {"dimension_mismatch", "unit_mismatch", "unit_error", "bad_unit"}


def accepted_attempt(trace: Trace) -> Attempt | None:
    """The attempt that made the trace accepted: the last verified one, else the last one."""
    return trace.accepted_attempt


def question_text(trace: Trace) -> str:
    """The question as the model saw it: text plus lettered choices."""
    q = trace.question
    if q is None:
        return ""
    text = q.question
    if q.choices:
        text += "\n" + "\n".join(f"({chr(ord('A') + i)}) {c}" for i, c in enumerate(q.choices))
    return text


def _numbers(text: str) -> list[str]:
    out = []
    for m in _NUMBER.finditer(text):
        try:
            out.append(_canon(float(m.group(0))))
        except ValueError:
            continue
    return out


def _canon(x: float) -> str:
    return f"{x:.4g}"


def _count(val: Any) -> int:
    """A counter a verifier wrote as a number or as the list of items."""
    if isinstance(val, (list, tuple)):
        return len(val)
    return int(val) if isinstance(val, (int, float)) and not isinstance(val, bool) else 0


def _steps_counts(verdicts: list[Verdict]) -> tuple[float, float, float, float]:
    """(present, checked share, passed share, failed) from a step verifier's details.

    Understands ``details.steps`` (a list of dicts with ``ok`` true/false/None) and the counters
    ``checked``/``passed``/``failed``/``unchecked`` (ints or lists), whichever the verifier wrote.
    """
    for v in verdicts:
        if v.verifier != "steps":
            continue
        d = v.details or {}
        checked, passed, failed, unchecked = (_count(d.get(k)) for k in ("checked", "passed", "failed", "unchecked"))
        steps = d.get("steps")
        if isinstance(steps, list) and steps:
            oks = [s.get("ok") if isinstance(s, dict) else None for s in steps]
            passed = sum(1 for o in oks if o is True)
            failed = sum(1 for o in oks if o is False)
            unchecked = sum(1 for o in oks if o is None)
            checked = passed + failed
        if checked and not passed and not failed:
            passed = round(checked * v.score)
            failed = checked - passed
        total = checked + unchecked
        return (1.0, checked / total if total else 0.0, passed / checked if checked else 0.0, float(failed))
    return 0.0, 0.0, 0.0, 0.0


def _answer_position(solution: str, answer: str | None) -> tuple[float, float]:
    """(first position of the final answer in 0..1, number of mentions); (1, 0) when there is none."""
    if not answer or not solution:
        return 1.0, 0.0
    nums = _numbers(answer)
    if nums:
        positions = [m.start() for m in _NUMBER.finditer(solution) if _safe_canon(m.group(0)) == nums[0]]
    else:
        key = answer.strip()[:40]
        positions = [m.start() for m in re.finditer(re.escape(key), solution)] if key else []
    if not positions:
        return 1.0, 0.0
    return positions[0] / max(1, len(solution)), float(len(positions))


def _safe_canon(s: str) -> str | None:
    try:
        return _canon(float(s))
    except ValueError:
        return None


def _unit_key(unit: str) -> str:
    """A unit reduced to letters, digits and operators: "m/s^2", "$\\mathrm{m\\,s^{-2}}$" compare loosely."""
    unit = re.sub(r"\\(?:mathrm|text|operatorname)\{([^}]*)\}", r"\1", unit)
    return re.sub(r"[\s$~{}\\,]", "", unit).lower()


def answer_unit_match(trace: Trace, extracted: str | None) -> float:
    """Whether the final answer's unit is the question's (unit errors keep the number and change the unit)."""
    q = trace.question
    if q is None or not q.unit or not q.unit.strip() or not extracted:
        return 0.5
    want = _unit_key(q.unit)
    m = re.match(r"\s*[-+]?[\d.,]+(?:[eE][-+]?\d+)?(?:\s*(?:\\times|\\cdot|x|×)\s*10\^\{?[-+]?\d+\}?)?(.*)$",
                 extracted)
    got = _unit_key(m.group(1)) if m else ""
    if not got:
        return 0.5
    return 1.0 if got == want else 0.0


def struct_features(trace: Trace) -> list[float]:
    """The numeric features of one trace, in ``STRUCT_FEATURES`` order."""
    a = accepted_attempt(trace)
    sol = a.solution if a else ""
    verdicts = a.verdicts if a else []
    required = [v for v in verdicts if v.required]
    qtext = question_text(trace)
    lines = [ln for ln in sol.splitlines() if ln.strip()]
    n_eq = sum(1 for ln in lines if _EQUATION_LINE.search(ln)) + len(_DISPLAY_MATH.findall(sol)) // 2
    q_nums = set(_numbers(qtext))
    s_nums = _numbers(sol)
    used = len(q_nums & set(s_nums)) / len(q_nums) if q_nums else 0.0
    steps = _steps_counts(verdicts)
    extracted = a.extracted_answer if a else None
    pos, mentions = _answer_position(sol, extracted)
    stage = a.stage if a else None
    tail = sol.rstrip()
    values = {
        "required_ok_share": sum(v.ok for v in required) / len(required) if required else 0.0,
        "answer_ok": float(any(v.verifier == "answer" and v.ok for v in verdicts)),
        "no_answer": float(any(v.reason == "no_answer" for v in verdicts)),
        "unit_problem": float(any(v.reason in _UNIT_REASONS for v in verdicts)),
        "answer_unit_match": answer_unit_match(trace, extracted),
        "steps_present": steps[0], "steps_checked_share": steps[1], "steps_passed_share": steps[2],
        "steps_failed": math.log1p(steps[3]),
        "stage_cot": float(stage == "cot"), "stage_reflection": float(stage == "reflection"),
        "stage_with_answer": float(stage == "with_answer"),
        "answer_shown": float(trace.answer_shown),
        "n_attempts": float(len(trace.attempts)),
        "log_chars": math.log1p(len(sol)), "log_words": math.log1p(len(sol.split())),
        "n_lines": math.log1p(len(lines)),
        "n_equations": math.log1p(n_eq), "equations_per_line": n_eq / len(lines) if lines else 0.0,
        "n_numbers": math.log1p(len(s_nums)), "question_numbers_used": used,
        "has_boxed": float("\\boxed" in sol), "has_answer_line": float(bool(_ANSWER_LINE.search(sol))),
        "extracted_answer": float(bool(extracted and extracted.strip())),
        "ends_cleanly": float(tail.endswith(_CLEAN_END)),
        "answer_first_position": pos, "answer_mentions": math.log1p(mentions),
        "reference_phrases": float(len(_REFERENCE.findall(sol))),
        "reasoning_words": math.log1p(len(_REASONING.findall(sol))),
        "retrieved_n": float(len(a.retrieved) if a else 0), "cites_chunk": float(bool(_CHUNK_CITE.search(sol))),
        "question_log_chars": math.log1p(len(qtext)),
    }
    return [float(values[name]) for name in STRUCT_FEATURES]


def trace_row(trace: Trace) -> list[Any]:
    """One row of the classifier's input table."""
    a = accepted_attempt(trace)
    return [question_text(trace), a.solution if a else "", *struct_features(trace)]


def feature_table(traces: Iterable[Trace]) -> Any:
    """The classifier's input: a 2-D numpy object array, one row per trace."""
    import numpy as np

    rows = [trace_row(t) for t in traces]
    table = np.empty((len(rows), len(TEXT_COLUMNS) + len(STRUCT_FEATURES)), dtype=object)
    for i, row in enumerate(rows):
        table[i, :] = row
    return table
