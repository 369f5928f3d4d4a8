"""Multiple-choice answers: the option letter a solution picked, compared with a letter or option-text gold.

Accepted spellings: ``(B)``, ``B``, ``B)``, ``B.``, ``\\text{(B)}``, ``\\boxed{B}``, ``answer: B``,
``the answer is (b)``, ``the correct choice is (B)``, ``答案是 C``, a leading ``(E) 1,008,016``, or the text of
an option. Regular expressions only.
"""

from __future__ import annotations

import re

from scireflect.tools.extract import boxed_answer, extract_answer

LETTERS = "ABCDEFGHIJ"
_WRAP = re.compile(r"\\(?:text|mathrm|textbf|mathbf|textnormal)\s*\{([^{}]*)\}")
_ANCHORED = re.compile(
    r"(?:answer|choice|option|答案)\s*(?:is|is\s*:|:|=|：|是|为)?\s*(?:option\s+|choice\s+)?"
    r"[\(\[]?\s*([A-Ja-j])\s*[\)\]]?(?![A-Za-z0-9])", re.IGNORECASE)
_LEADING = re.compile(r"^\s*(?:\\\w+\s*\{)?\s*[\(\[]\s*([A-Ja-j])\s*[\)\]]|^\s*([A-J])\s*[\).:](?:\s|$|\\)")


def _unwrap(s: str) -> str:
    s = s.strip().strip("$").strip()
    for _ in range(3):
        s = _WRAP.sub(r"\1", s)
    return s.replace("\\}", "}").replace("\\{", "{").strip()


def letter_of(text: str, n_choices: int | None = None) -> str | None:
    """The letter when ``text`` is nothing but an option letter (``B``, ``(b)``, ``B)``, ``\\text{(C)}``)."""
    s = _unwrap(text).rstrip(".").strip()
    m = re.fullmatch(r"[\(\[]?\s*([A-Ja-j])\s*[\)\]\.:]?", s)
    if not m:
        return None
    letter = m.group(1).upper()
    if n_choices is not None and LETTERS.index(letter) >= n_choices:
        return None
    return letter


def _norm_text(s: str) -> str:
    return re.sub(r"[\s.$]+", " ", _unwrap(s)).strip().lower()


def pred_letter(pred: str, choices: list[str] | None = None) -> str | None:
    """The option letter a solution chose, or None."""
    limit = LETTERS[: len(choices)] if choices else LETTERS[:5]
    text = pred[-20_000:]
    boxed = boxed_answer(text)
    if boxed is not None:
        letter = letter_of(boxed) or _leading(boxed)
        if letter:
            return letter
        found = _from_option_text(boxed, choices)
        if found:
            return found
    whole = letter_of(text)
    if whole:
        return whole
    anchored = [m.group(1).upper() for m in _ANCHORED.finditer(text)]
    if anchored:
        return anchored[-1]
    lead = _leading(text)
    if lead:
        return lead
    found = _from_option_text(text, choices)
    if found:
        return found
    extracted = extract_answer(text)
    if extracted:
        found = letter_of(extracted) or _from_option_text(extracted, choices)
        if found:
            return found
    # Last resort: the last standalone capital option letter ("Because B is valid").
    loose = re.findall(r"(?<![A-Za-z0-9\\])([" + limit + r"])(?![A-Za-z0-9])", text)
    return loose[-1] if loose else None


def _leading(text: str) -> str | None:
    m = _LEADING.match(_unwrap(text) if len(text) < 200 else text)
    if not m:
        return None
    return (m.group(1) or m.group(2)).upper()


def _from_option_text(text: str, choices: list[str] | None) -> str | None:
    if not choices:
        return None
    t = _norm_text(text)
    for i, c in enumerate(choices):
        if t and t == _norm_text(c):
            return LETTERS[i]
    return None


def gold_letter(gold: str, choices: list[str] | None = None) -> str | None:
    """The gold's option letter: a letter gold, or the text of one of ``choices``."""
    letter = letter_of(gold, len(choices) if choices else None)
    if letter:
        return letter
    return _from_option_text(gold, choices)
