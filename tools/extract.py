"""Final-answer extraction from free-form model output. Total: returns None, never raises.

Order (the rules of ``../shared/answer_equiv/README.md``): the last ``\\boxed{}``/``\\fbox{}`` (several boxes
joined by "and" or commas at the end form one list answer), else the text after the last "final answer is" /
"the answer is" / "Answer:" (or 答案是), else the last stated value of the last sentence. Only regular
expressions run here, with bounded input, so it is safe on any model output in the main process.
"""

from __future__ import annotations

import re

MAX_INPUT = 200_000
MAX_ANSWER = 2_000

_ANCHOR = re.compile(
    r"(?:final\s+answer|the\s+(?:correct\s+)?answer|(?<![A-Za-z])answer|correct\s+(?:choice|option)|答案是|答案为|答案：)"
    r"(?:\s*(?:is|is\s*:|:|=|：)|(?<=[是为：])|(?=\s*(?:\$|\\\(|\\\[)))\s*", re.IGNORECASE)
_NUMBER_UNIT = re.compile(
    r"[-+−]?(?:\d+\s*/\s*\d+(?!\d|\.\d)|\d[\d,]*(?:\.\d+)?|\.\d+)(?:\s*(?:[eE][-+]?\d+|(?:\\times|\\cdot|×|x)\s*10\^\{?[-+−]?\d+\}?))?"
    r"(?:\s*(?:\\[,;! ]|~)?\s*(?:\\(?:mathrm|text|mbox)\{[^{}]*\}|[A-Za-zµμΩÅ°%][A-Za-zµμΩÅ°%/^·*\-{}0-9]*)"
    r"(?:[ \t]?(?:\\(?:mathrm|text|mbox)\{[^{}]*\}|[A-Za-zµμΩÅ°/][A-Za-zµμΩÅ°/^·*\-{}0-9]*)){0,3})?")
_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_JOIN_GAP = re.compile(r"^(?:\s|,|;|\\quad|\\qquad|\\,|\\text\{[^{}]*\}|\$|\\\)|\\\(|and|or|&)*$")
_NOT_A_LIST = re.compile(r"\b(?:but|gives?|get|then|correct|actually|wait|instead|no|not|so|check)\b", re.I)
_TRAILING = re.compile(r"(?:\s*(?:\.|,|;|!|\\quad)\s*)+$")


def _matching_braces(text: str) -> dict[int, int]:
    """Position of each ``{`` -> its closing ``}`` (one linear pass; unclosed braces are absent)."""
    pairs, stack = {}, []
    for i, c in enumerate(text):
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            pairs[stack.pop()] = i
    return pairs


def _boxed_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every ``\\boxed{..}``/``\\fbox{..}`` (and ``\\boxed 12``), braces balanced."""
    if "\\boxed" not in text and "\\fbox" not in text:
        return []
    pairs = _matching_braces(text)
    spans = []
    for m in re.finditer(r"\\(?:boxed|fbox)\s*", text):
        i = m.end()
        if i < len(text) and text[i] == "{":
            j = pairs.get(i)
            if j is not None:
                spans.append((m.start(), j + 1, text[i + 1:j].strip()))
        else:
            w = re.match(r"[^\s$.,;]+", text[i:i + 200])
            if w:
                spans.append((m.start(), i + w.end(), w.group(0)))
    return spans


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` or ``\\fbox{...}``; None if absent or unclosed."""
    spans = _boxed_spans(text)
    return spans[-1][2] if spans else None


def boxed_answer(text: str) -> str | None:
    """The last box, joined with the boxes just before it when only "and"/commas separate them."""
    spans = _boxed_spans(text)
    if not spans:
        return None
    parts = [spans[-1][2]]
    for prev, cur in zip(reversed(spans[:-1]), reversed(spans[1:])):
        gap = text[prev[1]:cur[0]]
        words = re.sub(r"\\text\{([^{}]*)\}", r" \1 ", gap)
        if len(gap) > 60 or _NOT_A_LIST.search(words):
            break
        if not (_JOIN_GAP.match(gap) or (re.search(r"\b(?:and|or)\b|,", words) and len(words.strip()) <= 40)):
            break
        parts.insert(0, prev[2])
    return ", ".join(p for p in parts if p)


def _clean(ans: str) -> str:
    ans = ans.strip()
    for _ in range(3):
        ans = re.sub(r"^\$+|\$+$", "", ans).strip()
        ans = re.sub(r"^\\\(|\\\)$|^\\\[|\\\]$", "", ans).strip()
        ans = _TRAILING.sub("", ans).strip()
    return ans


def _after_anchor(text: str, after: int = 0) -> str | None:
    matches = [m for m in _ANCHOR.finditer(text) if m.start() >= after]
    for m in reversed(matches):
        rest = text[m.end():m.end() + MAX_ANSWER]
        math = re.match(r"\s*(\$\$.+?\$\$|\$.+?\$|\\\(.+?\\\)|\\\[.+?\\\])", rest, re.S)
        if math:
            ans = _clean(math.group(1))
        else:
            line = rest.split("\n", 1)[0]
            # Up to the end of the sentence: a full stop followed by a space or the end.
            ans = _clean(re.split(r"(?<!\d)\.(?:\s|$)|(?<=\d)\.(?:\s+[A-Z]|\s*$)", line, maxsplit=1)[0])
        if ans:
            return ans[:MAX_ANSWER]
    return None


def _last_value(text: str) -> str | None:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    last = lines[-1]
    words = re.sub(r"\\[A-Za-z]+", " ", last)  # LaTeX commands are not prose
    if len(lines) == 1 and "\\boxed" not in last and "\\fbox" not in last and (
            not re.search(r"[A-Za-z]{2,}", words) or len(last) <= 80 and (
            re.match(r"^\W{0,3}[-+−]?\.?\d", last) or not re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}", words))):
        return _clean(last) or None  # a bare answer ("300 cm/s", "x+1", "3 meters per second", "1+1+...")
    sentences = re.split(r"(?<=[.!?])(?:\$\$|\$|\\\]|\\\))?\s+(?=[A-Z])", last[-3000:])
    for sentence in reversed(sentences[-3:]):
        tail = sentence[-600:]
        maths = [next(g for g in m.groups() if g is not None) for m in _MATH.finditer(tail)]
        if maths:
            return _clean(maths[-1]) or None
        values = list(_NUMBER_UNIT.finditer(tail))
        if values:
            return _clean(values[-1].group(0)) or None
    return None


_CHAT_TOKENS = re.compile(r"<\|(?:im_end|im_start|endoftext|eot_id|end_of_text|start_header_id)\|>")


def extract_answer(text: str | None) -> str | None:
    """The final answer of a solution, or None when nothing answer-like is found."""
    try:
        if not text or not str(text).strip():
            return None
        text = str(text)[-MAX_INPUT:]
        m = _CHAT_TOKENS.search(text)
        if m and m.start() > 0:  # chat-template tokens end the answer; what follows is not the model's
            text = text[:m.start()]
        spans = _boxed_spans(text)
        anchored = _after_anchor(text, after=spans[-1][1] if spans else 0)
        if anchored and (not spans or re.search(r"[\d\\$]", anchored) or re.fullmatch(r"\(?[A-J]\)?", anchored)):
            return anchored  # "Final answer: ..." written after the last box overrides it
        boxed = boxed_answer(text)
        if boxed:
            return _clean(boxed)[:MAX_ANSWER] or None
        return _last_value(text)
    except Exception:  # noqa: BLE001 - extraction must be total
        return None
