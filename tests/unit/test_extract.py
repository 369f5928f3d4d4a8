"""Final-answer extraction: boxes, anchors, last stated values; total on any input."""

from __future__ import annotations

import time

import pytest

from scireflect.tools import extract_answer
from scireflect.tools.extract import boxed_answer, last_boxed

CASES = [
    ("The speed is 3.0 m/s.", "3.0 m/s"),
    ("300 cm/s", "300 cm/s"),
    ("3 meters per second", "3 meters per second"),
    ("x+1", "x+1"),
    (r"so the area is \boxed{\frac{\sqrt{3}}{2}} units", r"\frac{\sqrt{3}}{2}"),
    (r"First I guessed \boxed{3}, but re-checking the count gives \boxed{4}.", "4"),
    (r"\boxed{1} and \boxed{2} and \boxed{3}", "1, 2, 3"),
    (r"$$\boxed{(3, 3)} \text{ for part (a) and } \boxed{(1, 1)}$$", "(3, 3), (1, 1)"),
    (r"so the area is \boxed 12", "12"),
    (r"We get $x = 7$, so the answer is \fbox{7}.", "7"),
    ("The answer is (C).", "(C)"),
    ("Options A and C look plausible, but the answer is C.", "C"),
    ("Answer: D", "D"),
    ("答案是 C", "C"),
    (r"Answer \[ 9 \]", "9"),
    ("Answer $ 9 $", "9"),
    ("We first get $x=9$, but correcting the sign error gives $x=10$. Final answer: $10$", "10"),
    ("The answer is five.", "five"),
    (r"We find that $x \lt 3$.", r"x \lt 3"),
    ("the number is not 10 which is 1,000.99€", "1,000.99"),
    ("Therefore, the probability is 2/3. <|im_start|>user\nnext question", "2/3"),
    (r"...$= \boxed{200}$ ... $10,200 + $255 = $10,455. Final Answer: The final answer is $10,455$. I hope it is correct.",
     "10,455"),
    (r"$\boxed{4}$. I hope the answer is correct.", "4"),
    ("The total cost is \\$18.90.", "18.90"),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_extract_answer(text: str, expected: str) -> None:
    assert extract_answer(text) == expected


@pytest.mark.parametrize("text", [None, "", "   ", "no numbers here at all, just words and more words", "\\boxed{"])
def test_extract_answer_returns_none_when_nothing_answer_like(text: str | None) -> None:
    assert extract_answer(text) is None


def test_extract_is_total_and_bounded_on_hostile_input() -> None:
    for text in ("\\boxed{" * 50_000, "{" * 100_000, "$" * 100_000, "answer is " * 30_000, "1" * 1_000_000):
        t0 = time.perf_counter()
        out = extract_answer(text)
        assert out is None or isinstance(out, str)
        assert time.perf_counter() - t0 < 2.0, text[:20]


def test_boxed_helpers() -> None:
    assert last_boxed(r"\boxed{a{b}c} and \boxed{d}") == "d"
    assert boxed_answer(r"\boxed{a} then later we get \boxed{b}") == "b"
    assert boxed_answer("no box") is None
