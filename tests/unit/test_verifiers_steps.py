"""The ``steps`` verifier: claims found with their lines, checked with units, unparseable ones unchecked."""

from __future__ import annotations

import pytest

from scireflect.schema import Attempt, Question
from scireflect.tools.verifiers import arith
from scireflect.tools.verifiers.steps import StepsVerifier, check_steps, extract_claims

SOLUTION = r"""The car covers 120 m in 2 s.
So v = d/t = 120/2 = 60 m/s.
Then $3 \times 4 = 13$, clearly.
$$E = mc^2 = 2 \times (3\times10^8)^2 = 1.8\times10^{17}$$
Force: $F = ma = 2\,\mathrm{kg} \times 3\,\mathrm{m/s^2} = 6\,\mathrm{N}$.
\begin{align*} x &= 5 + 5 \\ &= 10 \end{align*}
Also \sqrt{117} \approx 10.8 and $\sin(\pi/6) = 0.5$.
"""


def test_extract_claims_with_lines() -> None:
    claims = {(c.line, c.lhs, c.rhs) for c in extract_claims(SOLUTION)}
    assert (2, "120/2", "60 m/s") in claims
    assert (2, "v", "d/t") in claims
    assert (3, r"3 \times 4", "13") in claims
    assert (6, "5 + 5", "10") in claims  # align continuation "&= 10"
    approx = [c for c in extract_claims(SOLUTION) if c.approx]
    assert approx and approx[0].lhs == r"\sqrt{117}"


def test_check_steps_reports_each_step_and_the_first_wrong_one() -> None:
    v = check_steps(SOLUTION)
    assert not v.ok and v.reason == "unequal"
    steps = v.details["steps"]
    assert all({"line", "text", "status"} <= set(s) for s in steps)
    assert {s["status"] for s in steps} <= {"ok", "wrong", "unchecked"}
    by_text = {s["text"]: s["status"] for s in steps}
    assert by_text["120/2 = 60 m/s"] == "ok"
    assert by_text[r"3 \times 4 = 13"] == "wrong"
    assert by_text[r"2 \times (3\times10^8)^2 = 1.8\times10^{17}"] == "ok"
    assert by_text[r"2\,\mathrm{kg} \times 3\,\mathrm{m/s^2} = 6\,\mathrm{N}"] == "ok"
    assert by_text["5 + 5 = 10"] == "ok"
    assert by_text[r"\sqrt{117} ≈ 10.8"] == "ok"
    assert by_text[r"\sin(\pi/6) = 0.5"] == "ok"
    assert by_text["v = d/t"] == "unchecked" and by_text["E = mc^2"] == "unchecked"
    first = v.details["first_wrong"]
    assert first["line"] == 3 and first["status"] == "wrong"
    assert "line 3" in v.message


@pytest.mark.parametrize("solution,status", [
    ("W = 5 J = 5 W", "wrong"),                 # dimensions differ
    ("d = 3 km = 3000 m", "ok"),                # units converted
    ("d = 3 km = 300 m", "wrong"),
    ("p = 2 \\times 3 = 6", "ok"),
    ("total = 7 \\cdot 8 = 54", "wrong"),
    ("g \\approx 9.81 \\approx 10", "ok"),      # approximate: 5%
    ("f(x) = x^2 + 1 = (x+1)^2", "unchecked"),  # symbolic: never wrong
    ("$n = 3 \\text{ apples} = \\text{many}$", "unchecked"),
])
def test_claim_statuses(solution: str, status: str) -> None:
    v = check_steps(solution)
    last = v.details["steps"][-1]
    assert last["status"] == status, v.details["steps"]


def test_nothing_checkable_is_ok_and_unchecked() -> None:
    v = check_steps("We reason in words only. The answer follows.")
    assert v.ok and v.reason == "unchecked" and v.details["steps"] == []


def test_advisory_by_default_required_with_require_steps() -> None:
    q = Question(id="q", question="?", answer="12", type="numeric")
    a = Attempt(stage="cot", solution="$3 \\times 4 = 13$")
    advisory = StepsVerifier().verify(q, a)
    assert not advisory.ok and advisory.required is False
    strict = StepsVerifier(require_steps=True).verify(q, a)
    assert not strict.ok and strict.required is True


def test_arith_evaluator_is_closed() -> None:
    assert arith.evaluate("\\frac{1}{2}(3)^2")[0] == 4.5
    assert arith.evaluate("2^{10}")[0] == 1024
    for bad in ("__import__('os')", "2^{10^{10}}", "x + 1", "1/0", "lambda: 1"):
        with pytest.raises(arith.NotArithmetic):
            arith.evaluate(bad)


def test_quick_check_decides_only_solutions_without_any_relation() -> None:
    q = Question(id="q", question="?", answer="12", type="numeric")
    v = StepsVerifier()
    words = Attempt(stage="cot", solution="We reason in words only, 3 and 4 make 12. The answer is \\boxed{12}.")
    assert v.quick_verify(q, words) == v.verify(q, words)
    for text in ("$3 \\times 4 = 13$", SOLUTION, "x \\approx 2", "x ≈ 2", "a \\simeq b"):
        assert v.quick_verify(q, Attempt(stage="cot", solution=text)) is None
