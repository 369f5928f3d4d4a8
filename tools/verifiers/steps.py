"""The ``steps`` verifier: check the equalities and arithmetic claims of a derivation, not only its answer.

Claims are found with regular expressions in the main process (``v = d/t = 120/2 = 60``,
``3 \\times 4 = 12``, ``E = mc^2 = 2 \\times (3\\times10^8)^2 = 1.8\\times10^{17}``, align rows ``&= ...``); the
values are computed in the sandboxed worker pool. Every step is reported with its line; a claim that
cannot be evaluated is *unchecked*, never wrong. Advisory unless ``require_steps`` is set.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any, Callable

from scireflect.schema import Attempt, Question, Verdict
from scireflect.tools.verifiers.base import Verifier
from scireflect.tools.verifiers.pool import get_pool

NAME = "steps"
MAX_CLAIMS = 200
MAX_SIDE = 300

_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|\$(.+?)\$|\\begin\{(align\*?|equation\*?|gather\*?)\}(.+?)"
                   r"\\end\{\5\}", re.S)
_REL = re.compile(r"(?<![<>!=\\:])=(?!=)|\\approx|≈|\\simeq")
_ANY_REL = re.compile(r"=|\\approx|≈|\\simeq")  # no match anywhere: no claim can be found
_PROSE_BEFORE = re.compile(
    r"(?:[.,;:!?]\s|\b(?:so|thus|then|hence|therefore|we|get|have|is|are|gives|and|that|where|with|find|obtain|"
    r"equals?|becomes|yields|since|because|of)\b)", re.I)
_PROSE_AFTER = re.compile(r"[,;]\s|\.\s|\.$|\s(?:which|so|and|where|for|if|then|because|is|thus|as|when|from)\b"
                          r"|\\(?:text|quad|qquad)\b", re.I)


@dataclass
class Claim:
    line: int
    lhs: str
    rhs: str
    approx: bool = False

    @property
    def text(self) -> str:
        return f"{self.lhs} {'≈' if self.approx else '='} {self.rhs}"


def _line_finder(text: str) -> Callable[[int], int]:
    """pos -> 1-based line of ``text`` (newline offsets found once; counting per row was quadratic)."""
    newlines = [m.start() for m in re.finditer("\n", text)]
    return lambda pos: bisect.bisect_left(newlines, pos) + 1


def _segments(text: str) -> list[tuple[int, str]]:
    """(position, content) of each math segment, plus plain-text lines that contain '=' and a digit."""
    out: list[tuple[int, str]] = []
    covered = []
    for m in _MATH.finditer(text):
        content = next((g for g in (m.group(1), m.group(2), m.group(3), m.group(4), m.group(6)) if g), "")
        out.append((m.start(), content))
        covered.append((m.start(), m.end()))
    plain = list(text)
    for a, b in covered:
        plain[a:b] = [" " if c != "\n" else "\n" for c in plain[a:b]]
    pos = 0
    for line in "".join(plain).split("\n"):
        if re.search(r"=|\\approx|≈", line) and re.search(r"\d", line):
            out.append((pos, line))
        pos += len(line) + 1
    return sorted(out)


def _prose(token: str) -> bool:
    """A word of running text (3+ letters, no LaTeX, digits or operators), as opposed to maths."""
    return bool(re.fullmatch(r"[A-Za-z]{3,}[.,;:!?]?", token))


def _trim_left(side: str) -> str:
    cut = 0
    for m in _PROSE_BEFORE.finditer(side):
        cut = m.end()
    tokens = side[cut:].split()
    while tokens and _prose(tokens[0]):
        tokens.pop(0)
    return " ".join(tokens)


def _trim_right(side: str) -> str:
    m = _PROSE_AFTER.search(side)
    tokens = (side[:m.start()] if m else side).split()
    keep = []
    for i, tok in enumerate(tokens):
        if i > 1 and _prose(tok):  # "60 m/s here" -> "60 m/s"; a unit word right after the number stays
            break
        keep.append(tok)
    return " ".join(keep).strip().rstrip(".").strip()


def _chain(row: str) -> list[tuple[str, bool]]:
    """Sides of ``a = b ≈ c``, each with whether the relation before it was approximate."""
    parts, rels, last = [], [], 0
    for m in _REL.finditer(row):
        parts.append(row[last:m.start()])
        rels.append(m.group(0) != "=")
        last = m.end()
    parts.append(row[last:])
    return [(p, rels[i - 1] if i else False) for i, p in enumerate(parts)]


def extract_claims(solution: str, max_claims: int = MAX_CLAIMS) -> list[Claim]:
    """Every adjacent pair of sides of every equality chain in ``solution``, with its 1-based line."""
    claims: list[Claim] = []
    text = solution[-200_000:]
    line_of = _line_finder(text)
    for pos, content in _segments(text):
        rows = re.split(r"\\\\(?![a-zA-Z])", content)
        prev_last: str | None = None
        offset = pos
        for row in rows:
            row_clean = row.replace("&", " ")
            sides = _chain(row_clean)
            if prev_last is not None and not sides[0][0].strip() and len(sides) > 1:
                sides[0] = (prev_last, False)  # align continuation: "&= 10" continues the row above
            line = line_of(offset)
            offset += len(row) + 2
            if len(sides) < 2:
                prev_last = None
                continue
            texts = [s for s, _ in sides]
            texts[0], texts[-1] = _trim_left(texts[0]), _trim_right(texts[-1])
            for i in range(len(texts) - 1):
                lhs, rhs = texts[i].strip(), texts[i + 1].strip()
                if lhs and rhs and len(lhs) <= MAX_SIDE and len(rhs) <= MAX_SIDE:
                    claims.append(Claim(line, lhs, rhs, sides[i + 1][1]))
                    if len(claims) >= max_claims:
                        return claims
            prev_last = texts[-1]
    return claims


def check_steps(solution: str, *, rel_tol: float = 0.01, approx_rel_tol: float = 0.05, timeout_s: float = 5.0,
                max_claims: int = MAX_CLAIMS) -> Verdict:
    """Extract and check the claims of ``solution``. Total: always a Verdict."""
    claims = extract_claims(solution or "", max_claims)
    if not claims:
        return _no_claims()
    payload = {"claims": [{"lhs": c.lhs, "rhs": c.rhs, "approx": c.approx} for c in claims],
               "rel_tol": rel_tol, "approx_rel_tol": approx_rel_tol}
    res = get_pool().call("steps", payload, timeout_s=timeout_s)
    if not res.ok or not isinstance(res.result, dict):
        reason = {"timeout": "timeout", "too_large": "too_large"}.get(res.status, "error")
        return Verdict(verifier=NAME, ok=False, score=0.0, reason=reason,
                       message=f"steps could not be checked: {res.error or res.status}",
                       details={"steps": [_step(c, {"status": "unchecked"}) for c in claims], "first_wrong": None})
    steps = [_step(c, r) for c, r in zip(claims, res.result.get("results", []))]
    return _verdict(steps)


def _no_claims() -> Verdict:
    return Verdict(verifier=NAME, ok=True, score=0.5, reason="unchecked", message="no equalities to check",
                   details={"steps": [], "first_wrong": None, "checked": 0})


def _step(c: Claim, r: dict[str, Any]) -> dict[str, Any]:
    step = {"line": c.line, "text": c.text, "lhs": c.lhs, "rhs": c.rhs, "status": r.get("status", "unchecked")}
    for k in ("note", "lhs_value", "rhs_value", "tolerance"):
        if k in r:
            step[k] = r[k]
    return step


def _verdict(steps: list[dict[str, Any]]) -> Verdict:
    wrong = [s for s in steps if s["status"] == "wrong"]
    ok = [s for s in steps if s["status"] == "ok"]
    checked = len(ok) + len(wrong)
    details = {"steps": steps, "first_wrong": wrong[0] if wrong else None, "checked": checked,
               "wrong": len(wrong), "unchecked": len(steps) - checked}
    if wrong:
        w = wrong[0]
        msg = f"step on line {w['line']} is wrong: {w['text']}" + (f" ({w['note']})" if w.get("note") else "")
        if len(wrong) > 1:
            msg += f"; {len(wrong) - 1} more wrong step(s)"
        return Verdict(verifier=NAME, ok=False, score=len(ok) / checked, reason="unequal", message=msg,
                       details=details)
    if checked:
        return Verdict(verifier=NAME, ok=True, score=1.0, reason="equal",
                       message=f"{checked} of {len(steps)} steps checked, all correct", details=details)
    return Verdict(verifier=NAME, ok=True, score=0.5, reason="unchecked",
                   message=f"none of {len(steps)} steps could be checked", details=details)


class StepsVerifier(Verifier):
    """Arithmetic and equality claims of the derivation, checked with units. Advisory by default."""

    name = "steps"
    description = "checks each equality/arithmetic step of the solution (advisory unless require_steps)"
    types = ("numeric", "symbolic", "multiple_choice", "free")

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.required = bool(options.get("require_steps", False))

    def check(self, question: Question, attempt: Attempt) -> Verdict:
        o = self.options
        return check_steps(attempt.solution, rel_tol=float(o.get("rel_tol", 0.01)),
                           approx_rel_tol=float(o.get("approx_rel_tol", 0.05)),
                           timeout_s=float(o.get("timeout_s", 5.0)), max_claims=int(o.get("max_claims", MAX_CLAIMS)))

    def quick_check(self, question: Question, attempt: Attempt) -> Verdict | None:
        return _no_claims() if _ANY_REL.search((attempt.solution or "")[-200_000:]) is None else None
