"""Final-answer extraction from free-form model output. Total: returns None, never raises."""

from __future__ import annotations

import re

_ANSWER_IS = re.compile(
    r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|:|=)\s*[:\s]*(?P<ans>.+)", re.IGNORECASE)
_NUMBER_UNIT = re.compile(
    r"(?P<ans>[-+−]?\s*(?:\d[\d,]*\.?\d*|\.\d+)(?:\s*(?:[eE][-+]?\d+|(?:\\times|\\cdot|×|x)\s*10\^\{?[-+−]?\d+\}?))?"
    r"(?:\s*[A-Za-zµμΩ°%][\w/^·*\-\s°%{}\\]*)?)\s*\.?\s*$")

MAX_INPUT = 200_000


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` or ``\\fbox{...}``, braces balanced; None if absent or unclosed."""
    idx = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if idx < 0:
        return None
    i = text.find("{", idx)
    if i < 0:
        # "\boxed 12" form
        m = re.match(r"\\(?:boxed|fbox)\s+(\S+)", text[idx:])
        return m.group(1) if m else None
    depth = 0
    for j in range(i, len(text)):
        c = text[j]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j].strip()
    return None


def _clean(ans: str) -> str:
    ans = ans.strip()
    ans = re.sub(r"^\$+|\$+$", "", ans).strip()
    ans = re.sub(r"^\\\(|\\\)$", "", ans).strip()
    ans = ans.rstrip(" .;,")
    return ans


def extract_answer(text: str | None) -> str | None:
    """The final answer of a solution: last ``\\boxed{}``, else "the answer is ...", else a last line
    holding a number (with its unit). Returns None when nothing answer-like is found."""
    try:
        if not text or not text.strip():
            return None
        text = text[-MAX_INPUT:]
        boxed = last_boxed(text)
        if boxed:
            return _clean(boxed)
        matches = list(_ANSWER_IS.finditer(text))
        if matches:
            ans = matches[-1].group("ans").strip().splitlines()[0]
            ans = _clean(ans)
            if ans:
                return ans[:500]
        for line in reversed([ln.strip() for ln in text.strip().splitlines() if ln.strip()]):
            line = line[-300:]
            m = _NUMBER_UNIT.search(line)
            if m:
                ans = _clean(m.group("ans"))
                if ans and re.search(r"\d", ans):
                    return ans
            break
        return None
    except Exception:  # noqa: BLE001 - extraction must be total
        return None
