"""The viewer's Jinja environment: package templates, autoescape on for every file, strict undefined.

Autoescape is what keeps model and question text inert: every value a template prints is escaped
unless it is one of the package's own assets (marked safe in ``assets``).
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).parent / "templates"


def _ms(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _score(value: Any) -> str:
    return "" if value is None else f"{float(value):.3f}"


def _when(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:19].replace("T", " ")
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _verdict_tokens(value: str | None) -> list[tuple[str, bool, str]]:
    """(verifier, ok, reason) from the store's " answer:ok answer:equal " column."""
    toks = (value or "").split()
    out = []
    for outcome, reason in zip(toks[0::2], toks[1::2]):
        name, _, flag = outcome.rpartition(":")
        out.append((name, flag == "ok", reason.rpartition(":")[2]))
    return out


def _preview(text: str | None, length: int = 160) -> str:
    """``text`` cut to about ``length`` characters, never inside inline math: a cut that would leave a
    ``$`` or ``\\(`` open ends before it instead, so KaTeX renders what is shown and no raw LaTeX is left."""
    text = " ".join((text or "").split())
    if len(text) <= length:
        return text
    cut = text[:length]
    opened = [cut.rfind("$") if cut.count("$") % 2 else -1,
              cut.rfind("\\(") if cut.count("\\(") > cut.count("\\)") else -1]
    at = max(opened)
    if at == 0:  # the text opens with math longer than the preview: show it whole rather than raw
        return text
    return (cut[:at] if at > 0 else cut).rstrip() + " …"


# Math the text already delimits (what KaTeX's auto-render typesets), and bare commands models write
# outside it ("The answer is \\boxed{25 m}", "\\frac{1}{2}"), which would otherwise show as raw LaTeX.
_DELIMITED = re.compile(r"\$\$.+?\$\$|\\\[.+?\\\]|\\\(.+?\\\)|(?<!\\)\$[^$]+?(?<!\\)\$", re.S)
_BARE = re.compile(r"\\(boxed|dfrac|tfrac|frac|sqrt)\s*(?=\{)")
_GROUPS = {"boxed": 1, "sqrt": 1, "frac": 2, "dfrac": 2, "tfrac": 2}


def _brace_group(text: str, at: int) -> int:
    """End (exclusive) of the balanced ``{...}`` starting at ``at``, or -1."""
    depth = 0
    for i in range(at, len(text)):
        ch = text[i]
        if ch == "\\":
            continue
        if ch == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif ch == "}" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def _wrap_bare(segment: str) -> str:
    out, pos = [], 0
    for m in _BARE.finditer(segment):
        if m.start() < pos:
            continue
        end = m.end()
        for _ in range(_GROUPS[m.group(1)]):
            while end < len(segment) and segment[end].isspace():
                end += 1
            end = _brace_group(segment, end) if end < len(segment) and segment[end] == "{" else -1
            if end < 0:
                break
        if end < 0:
            continue
        out += [segment[pos:m.start()], "\\(", segment[m.start():end], "\\)"]
        pos = end
    return "".join(out) + segment[pos:]


def _tex(text: Any) -> str:
    """``text`` with bare ``\\boxed{}``, ``\\frac{}{}`` and ``\\sqrt{}`` outside math put in ``\\( \\)``, so
    auto-render typesets them too. Plain text still: escaping is unchanged, and KaTeX reads text nodes only."""
    text = "" if text is None else str(text)
    if "\\" not in text:
        return text
    out, last = [], 0
    for m in _DELIMITED.finditer(text):
        out += [_wrap_bare(text[last:m.start()]), m.group()]
        last = m.end()
    return "".join(out) + _wrap_bare(text[last:])


# What each status means, for the badges' tooltips and the list's legend.
STATUS_HELP = {
    "accepted_cot": "verified on the first attempt and passed by the quality gate",
    "accepted_reflection": "verified after critique and revision, and passed by the quality gate",
    "accepted_with_answer": "verified after a revision that saw the reference answer, and passed by the gate",
    "gated_out": "verified, then rejected by the quality gate (kept in the store, left out of exports)",
    "rejected": "not verified within the rounds allowed",
    "error": "a step failed; the reason says which",
    "duplicate": "skipped: the same question as another in the run",
    "running": "not finished (still running, or interrupted)",
}


class _Environment(Environment):
    """Dict keys before dict methods: a template's ``step.values`` is the step's "values" entry, never
    ``dict.values`` (Jinja tries attributes first, which printed ``<built-in method values ...>``)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    env = _Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)
    env.filters.update(ms=_ms, score=_score, when=_when, verdicts=_verdict_tokens, preview=_preview, tex=_tex)
    env.globals["status_help"] = STATUS_HELP
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)
