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
from scireflect.tools.verifiers.steps_check import APPROX_REL_TOL, REL_TOL

NAME = "steps"
MAX_CLAIMS = 200
MAX_SIDE = 1500

_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|\$(.+?)\$|\\begin\{(align\*?|equation\*?|gather\*?|multline\*?"
                   r"|eqnarray\*?|flalign\*?)\}(.+?)\\end\{\5\}", re.S)
# Relations that make a claim ("=": exact, the rest approximate) and relations that only separate sides
# (inequalities, arrows, "\sim" = "of the order of", "\propto", "\equiv" = "defined as").
_REL = re.compile(r"(?<![<>!=\\:])=(?!=)|\\approx(?![a-zA-Z])|≈|\\simeq(?![a-zA-Z])|\\cong(?![a-zA-Z])|≅|\\doteq(?![a-zA-Z])"
                  r"|(?P<brk><=|>=|!=|:=|==|<|>|≤|≥|≠|∼|→|⇒|\\(?:leq?|geq?|leqslant|geqslant|neq?|ll|gg|sim|propto|equiv|"
                  r"to|rightarrow|Rightarrow|longrightarrow|Longrightarrow|implies|iff|Leftrightarrow|mapsto|"
                  r"lesssim|gtrsim|approxeq|NOTREL)(?![a-zA-Z]))")
_ANY_REL = re.compile(r"=|\\approx|≈|\\simeq|\\cong|≅")  # no match anywhere: no claim can be found
_PROSE_BEFORE = re.compile(
    r"(?:(?<!\\)[.,;:!?]\s|\b(?:so|thus|then|hence|therefore|we|get|have|is|are|gives|and|that|where|with|find|obtain|"
    r"equals?|becomes|yields|since|because|of)\b)", re.I)
_PROSE_AFTER = re.compile(r"(?<!\\)[,;]\s|\.\s|\.$|\s(?:which|so|and|where|for|if|then|because|is|thus|as|when|from)\b"
                          r"|\\q?quad\b", re.I)
# Words that make a \text{...} running text (a separator) rather than a unit ("\text{ m/s}", "\text{ years}").
_PROSE_WORDS = re.compile(r"\b(?:and|or|so|for|if|then|where|with|since|because|which|when|from|the|is|are|of|at|"
                          r"to|as|by|on|we|get|thus|hence|therefore|otherwise|answer|gives|yields|not|also|all|"
                          r"this|that|its|it|be|has|have|each|both|only|about|approximately|roughly)\b", re.I)
# A word just before a claim's first side that makes the side part of a larger expression: "half of 10 = 5".
_OPERATOR_WORDS = re.compile(r"(?:\b(?:of|times|twice|half|thrice|double|triple|by|over|per|plus|minus|than|into|"
                             r"divided|multiplied|squared|cubed|percent|from|less|more)|[-+*/^×·÷(\[{]|\d)\s*$", re.I)
# Separators inside a maths segment at bracket depth 0: "r=10, h=25", "\quad", "\text{ and }".
_SEPARATOR = re.compile(r"\\q?quad(?![a-zA-Z])|\\hspace\*?\{[^{}]*\}|(?<!\\);|(?<!\\),(?!\s*\\[!,])(?=\s*[A-Za-z\\])|\\(?:text|mbox|textrm)\s*\{"
                        r"(?P<prose>[^{}]*)\}")
# A claim followed by one of these is qualified ("= 373 \\quad \\text{remainder } 2") or refuted by the text
# itself ("we get $5 = 1$, which is not possible"): not a claim the solution makes.
_QUALIFIED = re.compile(r"^[\s(]*(?:\\text\s*\{\s*|\\mathrm\s*\{\s*)?(?:remainders?|rem|mod|modulo|r|R|times|percent|%|"
                        r"per|of|squared|cubed|more|less|plus|minus)\b")
_REFUTED = re.compile(r"not\s+possible|impossible|contradict|absurd|not\s+true|is\s+false|cannot\s+be|can't\s+be|"
                      r"incorrect|a\s+mistake|is\s+wrong|not\s+equal|inconsistent", re.I)
_ENV = re.compile(r"\\(?:begin|end)\s*\{[a-zA-Z*]+\}(?:\{[a-z|@{}. ]*\})?")
_ANNOTATED_REL = re.compile(r"\\(?:stackrel|overset|underset)\s*\{")
_BINOM_ARRAY = re.compile(r"\\left\s*\(\s*\\begin\{(?:array|matrix|pmatrix)\}(?:\{[a-z]*\})?\s*([^{}\\&$]+?)\s*\\\\\s*"
                          r"([^{}\\&$]+?)\s*\\end\{(?:array|matrix|pmatrix)\}\s*\\right\s*\)")
_LEFT_RIGHT = re.compile(r"\\(left|right)\b\s*(\\[a-zA-Z]+|\\.|.)?")
_OPEN = "([{"
_CLOSE = ")]}"


@dataclass
class Claim:
    line: int
    lhs: str
    rhs: str
    approx: bool = False
    plain: bool = False  # found in plain text (bare unit symbols are units) rather than LaTeX maths

    @property
    def text(self) -> str:
        return f"{self.lhs} {'≈' if self.approx else '='} {self.rhs}"


def _line_finder(text: str) -> Callable[[int], int]:
    """pos -> 1-based line of ``text`` (newline offsets found once; counting per row was quadratic)."""
    newlines = [m.start() for m in re.finditer("\n", text)]
    return lambda pos: bisect.bisect_left(newlines, pos) + 1


def _segments(text: str) -> list[tuple[int, int, str, bool]]:
    """(start, end, content, plain) of each math segment, plus plain-text lines with '=' and a digit."""
    out: list[tuple[int, int, str, bool]] = []
    covered = []
    for m in _MATH.finditer(text):
        content = next((g for g in (m.group(1), m.group(2), m.group(3), m.group(4), m.group(6)) if g), "")
        out.append((m.start(), m.end(), content, False))
        covered.append((m.start(), m.end()))
    plain = list(text)
    for a, b in covered:
        plain[a:b] = [" " if c != "\n" else "\n" for c in plain[a:b]]
    pos = 0
    for line in "".join(plain).split("\n"):
        if re.search(r"=|\\approx|≈", line) and re.search(r"\d", line):
            out.append((pos, pos + len(line), line, True))
        pos += len(line) + 1
    return sorted(out)


def _depths(s: str) -> list[int]:
    """Bracket depth before each character (``\\left``/``\\right`` count once, whatever their delimiter)."""
    out, d, i = [0] * (len(s) + 1), 0, 0
    while i < len(s):
        out[i] = d
        m = _LEFT_RIGHT.match(s, i) if s[i] == "\\" else None
        if m:
            d = d + 1 if m.group(1) == "left" else max(0, d - 1)
            for k in range(i, m.end()):
                out[k] = d if m.group(1) == "left" else d + 1
            i = m.end()
            continue
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in "{}":
            d = d + 1 if s[i + 1] == "{" else max(0, d - 1)
            out[i + 1] = d
            i += 2
            continue
        if s[i] in _OPEN:
            d += 1
        elif s[i] in _CLOSE:
            d = max(0, d - 1)
        i += 1
    out[len(s)] = d
    return out


def _brace_end(s: str, i: int) -> int:
    """Index after the brace group that opens at ``s[i] == "{"`` (len(s) when unbalanced)."""
    depth = 0
    for j in range(i, len(s)):
        depth += {"{": 1, "}": -1}.get(s[j], 0)
        if depth == 0:
            return j + 1
    return len(s)


def _keep_lines(old: str, new: str) -> str:
    """``new`` followed by the newlines of ``old``, so line numbers after a rewrite stay right."""
    return new + "\n" * old.count("\n")


def _unannotate(s: str) -> str:
    """``\\overbrace{X}^{Y}`` and ``\\underbrace{X}_{Y}`` -> X; ``\\stackrel{Y}{X}`` -> X, or a separating relation
    when X is "=" (an equality "by" something is not checked: ``\\stackrel{\\text{def}}{=}``)."""
    for _ in range(50):
        m = re.search(r"\\(?:overbrace|underbrace)\s*\{", s)
        if not m:
            break
        end = _brace_end(s, m.end() - 1)
        body = s[m.end():end - 1]
        rest = re.match(r"\s*[_^]\s*", s[end:])
        tail = end
        if rest:
            tail = end + rest.end()
            tail = _brace_end(s, tail) if tail < len(s) and s[tail] == "{" else min(len(s), tail + 1)
        s = s[:m.start()] + _keep_lines(s[m.start():tail], "{" + body + "}") + s[tail:]
    for _ in range(50):
        m = _ANNOTATED_REL.search(s)
        if not m:
            break
        end1 = _brace_end(s, m.end() - 1)
        k = end1
        while k < len(s) and s[k].isspace():
            k += 1
        if k >= len(s) or s[k] != "{":
            s = s[:m.start()] + " \\NOTREL " + s[end1:]
            continue
        end2 = _brace_end(s, k)
        body = s[k + 1:end2 - 1]
        repl = " \\NOTREL " if re.fullmatch(r"\s*(?:=|\\approx|\\simeq|\\cong)\s*", body) else "{" + body + "}"
        s = s[:m.start()] + _keep_lines(s[m.start():end2], repl) + s[end2:]
    return s


def _prepare(content: str) -> str:
    """One maths segment in the shape the row splitter expects: binomials as ``\\binom``, annotations gone,
    environment markers turned into row breaks."""
    s = _BINOM_ARRAY.sub(lambda m: _keep_lines(m.group(0), f"\\binom{{{m.group(1)}}}{{{m.group(2)}}}"), content)
    s = re.sub(r"\{\s*([^{}]+?)\s*\\choose\s*([^{}]+?)\s*\}", r"\\binom{\1}{\2}", s)
    s = _unannotate(s)
    return _ENV.sub(lambda m: _keep_lines(m.group(0), " \\\\ "), s)


def _prose(token: str) -> bool:
    """A word of running text (3+ letters, no LaTeX, digits or operators), as opposed to maths."""
    return bool(re.fullmatch(r"[A-Za-z]{3,}[.,;:!?]?", token))


def _cut_depth0(side: str, pattern: re.Pattern[str]) -> int | None:
    """Start of the first match of ``pattern`` at bracket depth 0, or None."""
    depth = _depths(side)
    for m in pattern.finditer(side):
        if depth[m.start()] == 0:
            return m.start()
    return None


def _trim_left(side: str, plain: bool) -> tuple[str, bool]:
    """The maths at the end of a first side ("So v" -> "v") and whether it is a fragment of a larger
    expression ("half of 10")."""
    side = side[-2 * MAX_SIDE:]  # only the end of a long first side can be maths of the claim
    cut = 0
    if plain:
        for m in _PROSE_BEFORE.finditer(side):
            cut = m.end()
    while m := re.match(r"\s*[A-Za-z]{3,}[.,;:!?]?(?=\s|$)", side[cut:]):
        cut += m.end()
    before = side[:cut]
    return side[cut:].strip(), bool(before.strip()) and bool(_OPERATOR_WORDS.search(before))


def _trim_right(side: str) -> str:
    side = side[:2 * MAX_SIDE]
    cut = _cut_depth0(side, _PROSE_AFTER)
    tokens = (side[:cut] if cut is not None else side).split()
    keep = []
    for i, tok in enumerate(tokens):
        if i > 1 and _prose(tok):  # "60 m/s here" -> "60 m/s"; a unit word right after the number stays
            break
        keep.append(tok)
    return " ".join(keep).strip().rstrip(".").strip()


def _split_at(s: str, pattern: re.Pattern[str], keep: Callable[[re.Match[str]], bool] = lambda m: True
              ) -> list[tuple[str, re.Match[str] | None, int]]:
    """Pieces of ``s`` between depth-0 matches of ``pattern``: (piece, the match that ends it, its offset)."""
    depth = _depths(s)
    parts, last = [], 0
    for m in pattern.finditer(s):
        if depth[m.start()] == 0 and keep(m):
            parts.append((s[last:m.start()], m, last))
            last = m.end()
    parts.append((s[last:], None, last))
    return parts


def _is_prose_text(m: re.Match[str]) -> bool:
    """``\\text{ and }`` separates claims; ``\\text{ m/s}`` or ``\\text{ years }`` (maybe a unit) does not."""
    prose = m.group("prose")
    if prose is None:
        return True
    return bool(_PROSE_WORDS.search(prose)) or bool(re.search(r"[(),:;?!]", prose)) or len(prose.split()) > 3


def _sentences(row: str) -> list[tuple[str, int]]:
    return [(p, at) for p, _, at in _split_at(row, _SEPARATOR, _is_prose_text)]


def _chain(sentence: str) -> list[tuple[str, str | None, int]]:
    """Sides of ``a = b ≈ c < d`` at depth 0, each with the relation before it ("=", "≈", "break" or None)
    and that relation's offset."""
    out: list[tuple[str, str | None, int]] = []
    prev: str | None = None
    prev_at = 0
    for piece, m, _ in _split_at(sentence, _REL):
        out.append((piece, prev, prev_at))
        if m is not None:
            prev = "break" if m.group("brk") else ("=" if m.group(0) == "=" else "≈")
            prev_at = m.start()
    return out


_LEADING_OP = re.compile(r"^\s*(?:[-+*/×·÷]|\\(?:times|cdot|div|pm|mp)(?![a-zA-Z]))")


_REL_END = re.compile(r"(?:=|\\approx|≈|\\simeq|\\cong|<|>|\\[lg]eq?|\\NOTREL)$")
_REL_START = re.compile(r"(?:=|\\approx|≈|\\simeq|\\cong|<|>|\\[lg]eq?(?![a-zA-Z])|\\NOTREL|$)")


def _alignment_only(row: str) -> bool:
    """Whether every ``&`` of the row is an alignment point (next to a relation or at the row's start); a
    ``&`` between two terms separates table cells, and such a row holds no claim."""
    for m in re.finditer(r"(?<!\\)&", row):
        before, after = row[:m.start()].rstrip(), row[m.end():].lstrip()
        if not before or _REL_END.search(before) or _REL_START.match(after):
            continue
        return False
    return True


def extract_claims(solution: str, max_claims: int = MAX_CLAIMS) -> list[Claim]:
    """Every adjacent pair of sides of every equality chain in ``solution``, with its 1-based line."""
    claims: list[Claim] = []
    text = (solution or "")[-200_000:].replace("\\$", "  ")  # an escaped dollar is money, not maths
    line_of = _line_finder(text)
    for pos, end, content, plain in _segments(text):
        if not _ANY_REL.search(content):
            continue
        prepared = content if plain else _prepare(content)
        first_line = line_of(pos)
        newlines = [m.start() for m in re.finditer("\n", prepared)]
        rows = re.split(r"\\\\(?![a-zA-Z])", prepared)
        starts, offset = [], 0
        for row in rows:
            starts.append(offset)
            offset += len(row) + 2
        after = text[end:end + 160]
        _rows_claims(rows, starts, lambda p: first_line + bisect.bisect_left(newlines, p), plain, after, claims,
                     max_claims)
        if len(claims) >= max_claims:
            return claims[:max_claims]
    return claims


def _rows_claims(rows: list[str], starts: list[int], line_at: Callable[[int], int], plain: bool, after: str,
                 claims: list[Claim], max_claims: int) -> None:
    """Claims of the rows of one segment (each on the line of its relation); ``&= x`` continues the chain
    of the row above. ``after`` is the text that follows the segment."""
    prev_last: str | None = None
    for n, row in enumerate(rows):
        if _REFUTED.search(row) or (n == len(rows) - 1 and _REFUTED.search(after)):
            prev_last = None
            continue
        nxt = rows[n + 1].replace("&", " ") if n + 1 < len(rows) else ""
        continues_below = bool(_LEADING_OP.match(nxt))  # the next row goes on with "+ ...": this row's end is a part
        if not _alignment_only(row):
            prev_last = None
            continue
        sentences = _sentences(row.replace("&", " "))
        for k, (sentence, at) in enumerate(sentences):
            sides = _chain(sentence)
            texts = [t for t, _, _ in sides]
            first_fragment = False
            if k == 0 and not texts[0].strip() and len(sides) > 1 and prev_last is not None:
                texts[0] = prev_last  # align continuation: "&= 10" continues the row above
            elif n > 0 and _LEADING_OP.match(texts[0]) and not plain:
                first_fragment = True  # "& + 4 = 9": the left side is the tail of the row above
            else:
                texts[0], first_fragment = _trim_left(texts[0], plain)
            last_fragment = continues_below and k == len(sentences) - 1
            trimmed = _trim_right(texts[-1])
            rest = texts[-1][texts[-1].find(trimmed) + len(trimmed):] if trimmed in texts[-1] else ""
            rest += " ".join(t for t, _ in sentences[k + 1:]) or (after if n == len(rows) - 1 else "")
            last_fragment = last_fragment or bool(_QUALIFIED.match(rest))
            texts[-1] = trimmed
            for i in range(len(texts) - 1):
                _, rel, rel_at = sides[i + 1]
                if rel == "break" or (i == 0 and first_fragment) or (i + 1 == len(texts) - 1 and last_fragment):
                    continue
                lhs, rhs = texts[i].strip(), texts[i + 1].strip()
                if lhs and rhs and len(lhs) <= MAX_SIDE and len(rhs) <= MAX_SIDE:
                    claims.append(Claim(line_at(starts[n] + at + rel_at), lhs, rhs, rel == "≈", plain))
                    if len(claims) >= max_claims:
                        return
        chain = _chain(sentences[-1][0]) if sentences else []
        conversion = bool(chain) and bool(re.match(r"\s*1\s*(?![\d.])", chain[0][0]))
        # Continue only from the end of an equality: not from a part of a longer expression, an equation
        # number "(5)", or a unit conversion note such as "1 J m^-3 = 1 Pa" (the row below rarely continues it).
        several = sum(len(_chain(t)) > 1 for t, _ in sentences) > 1  # "x &= 5 \quad y = 4": whose chain?
        ok = len(chain) > 1 and not continues_below and not conversion and not several
        prev_last = (_trim_right(chain[-1][0]).strip() or None) if ok else None


def check_steps(solution: str, *, rel_tol: float = REL_TOL, approx_rel_tol: float = APPROX_REL_TOL, timeout_s: float = 5.0,
                max_claims: int = MAX_CLAIMS) -> Verdict:
    """Extract and check the claims of ``solution``. Total: always a Verdict."""
    claims = extract_claims(solution or "", max_claims)
    if not claims:
        return _no_claims()
    payload = {"claims": [{"lhs": c.lhs, "rhs": c.rhs, "approx": c.approx, "plain": c.plain} for c in claims],
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
        return check_steps(attempt.solution, rel_tol=float(o.get("rel_tol", REL_TOL)),
                           approx_rel_tol=float(o.get("approx_rel_tol", APPROX_REL_TOL)),
                           timeout_s=float(o.get("timeout_s", 5.0)), max_claims=int(o.get("max_claims", MAX_CLAIMS)))

    def quick_check(self, question: Question, attempt: Attempt) -> Verdict | None:
        return _no_claims() if _ANY_REL.search((attempt.solution or "")[-200_000:]) is None else None
