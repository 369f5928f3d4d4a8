"""Side-by-side diffs of consecutive solutions (solver -> reviser -> ...), line by line with word marks.

The result is plain data (text segments with a changed flag); the template escapes every segment,
so a diff can never carry markup (unlike difflib.HtmlDiff, which emits HTML itself).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")

Segment = tuple[str, bool]  # (text, changed)


@dataclass
class Row:
    kind: str  # equal | replace | delete | insert
    left_no: int | None
    left: list[Segment]
    right_no: int | None
    right: list[Segment]


@dataclass
class SolutionDiff:
    before: str  # labels, e.g. "solver (cot)" and "reviser, round 1"
    after: str
    rows: list[Row] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    similarity: float = 1.0


def _words(a: str, b: str) -> tuple[list[Segment], list[Segment]]:
    ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
    left: list[Segment] = []
    right: list[Segment] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes():
        _push(left, "".join(ta[i1:i2]), op != "equal")
        _push(right, "".join(tb[j1:j2]), op != "equal")
    return left, right


def _push(segs: list[Segment], text: str, changed: bool) -> None:
    if not text:
        return
    if segs and segs[-1][1] == changed:
        segs[-1] = (segs[-1][0] + text, changed)
    else:
        segs.append((text, changed))


def diff_rows(a: str, b: str) -> list[Row]:
    la, lb = a.splitlines(), b.splitlines()
    rows: list[Row] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, la, lb, autojunk=False).get_opcodes():
        if op == "equal":
            rows += [Row("equal", i1 + k + 1, [(la[i1 + k], False)], j1 + k + 1, [(lb[j1 + k], False)])
                     for k in range(i2 - i1)]
            continue
        n = max(i2 - i1, j2 - j1)
        for k in range(n):
            i, j = i1 + k, j1 + k
            if i < i2 and j < j2:
                left, right = _words(la[i], lb[j])
                rows.append(Row("replace", i + 1, left, j + 1, right))
            elif i < i2:
                rows.append(Row("delete", i + 1, [(la[i], True)], None, []))
            else:
                rows.append(Row("insert", None, [], j + 1, [(lb[j], True)]))
    return rows


def attempt_label(stage: str, rnd: int) -> str:
    if stage == "cot":
        return "solver (first attempt)"
    if stage == "with_answer":
        return f"reviser with the answer shown (round {rnd})"
    return f"reviser (round {rnd})"


def solution_diffs(attempts: list[Any]) -> list[SolutionDiff]:
    """One diff per revision: each attempt against the one before it."""
    out = []
    for prev, cur in zip(attempts, attempts[1:]):
        rows = diff_rows(prev.solution, cur.solution)
        # word-level similarity: character-level ratio is quadratic on long solutions
        sim = difflib.SequenceMatcher(None, _TOKEN.findall(prev.solution), _TOKEN.findall(cur.solution)).ratio()
        out.append(SolutionDiff(before=attempt_label(prev.stage, prev.round), after=attempt_label(cur.stage, cur.round),
                                rows=rows, added=sum(r.kind in ("insert", "replace") for r in rows),
                                removed=sum(r.kind in ("delete", "replace") for r in rows), similarity=round(sim, 3)))
    return out
