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


# Physics notation: a number and its unit are one quantity, tighter than "/" and "\times".
@pytest.mark.parametrize("solution,status", [
    ("v = 120 m / 4.0 s = 30 m/s", "ok"),
    ("R = 10 V / 2.0 A = 5.0 Ω", "ok"),
    ("v = 120 m / 4.0 s = 40 m/s", "wrong"),
    ("F = 2.0 kg * 3.0 m/s^2 = 6.0 N", "ok"),
    ("F = 5.0 kg m s^-2 = 5.0 N", "ok"),
    (r"$v = 120\ \text{m} / 4.0\ \text{s} = 30\ \text{m/s}$", "ok"),
    (r"$q = \left(2.0 \times 10^5 \mathrm{~Pa}\right) \times\left(50 \mathrm{~g} \mathrm{~mol}^{-1}\right) \times"
     r"\left(\frac{1}{2.50 \mathrm{~g} \mathrm{~cm}^{-3}}-\frac{1}{2.00 \mathrm{~g} \mathrm{~cm}^{-3}}\right)"
     r"=-1.0 \times 10^6 \mathrm{~Pa} \mathrm{~cm}{ }^3 \mathrm{~mol}^{-1}$", "ok"),
    (r"$-1.0 \times 10^6 \mathrm{~Pa} \mathrm{~cm}{ }^3 \mathrm{~mol}^{-1}=-1.0 \mathrm{~Pa} \mathrm{~m}^3 \mathrm{~mol}^{-1}$",
     "ok"),
    (r"$\left(8.314 \mathrm{~J} \mathrm{~K}^{-1} \mathrm{~mol}^{-1}\right) \times(300 \mathrm{~K}) = 2494 \mathrm{~J} "
     r"\mathrm{~mol}^{-1}$", "ok"),
    (r"$\left(8.314 \mathrm{~J} \mathrm{~K}^{-1} \mathrm{~mol}^{-1}\right) \times(300 \mathrm{~K}) = 3494 \mathrm{~J} "
     r"\mathrm{~mol}^{-1}$", "wrong"),
    (r"$\frac{6.67 \times 10^{-11} \mathrm{~m}^3 / \mathrm{kg} \cdot \mathrm{s}^2 \times 6.0 \times 10^{24} \mathrm{~kg}}"
     r"{(6.4 \times 10^6 \mathrm{~m})^2} = 9.8 \mathrm{~m} / \mathrm{s}^2$", "ok"),  # after "/" the units stay below
    (r"$p = \frac{(0.50 \mathrm{~mol})(8.314 \mathrm{~J} \mathrm{~K}^{-1} \mathrm{~mol}^{-1})(300 \mathrm{K})}"
     r"{2.0 \times 10^{-3} \mathrm{~m}^3} = 6.2 \times 10^5 \mathrm{Jm}^{-3}$", "ok"),  # run-together "Jm^-3"
    (r"$(20+273.15) \mathrm{K} = 293 \mathrm{~K}$", "ok"),
    (r"$T = 25^\circ\mathrm{C} = 298 \mathrm{~K}$", "ok"),
    (r"$\Delta T = 10^\circ\mathrm{C} = 10 \mathrm{~K}$", "ok"),  # a difference, not a temperature
])
def test_physics_notation(solution: str, status: str) -> None:
    last = check_steps(solution).details["steps"][-1]
    assert last["status"] == status, last


# Rounding as worked solutions write it: to the digits shown, looser for \approx and \cong.
@pytest.mark.parametrize("solution,status", [
    ("$4.103 / 10 = 0.41$", "ok"),
    ("$4.103 / 10 = 0.43$", "wrong"),
    (r"$\frac{500 \mathrm{~K}}{300 \mathrm{~K}} \times (100 \mathrm{~atm}) = 167 \mathrm{~atm}$", "ok"),
    ("$1121 \\div 3 = 373$", "ok"),  # an integer quotient: truncated, not wrong
    ("$3 \\times 4 = 13$", "wrong"),  # integers only: exact
    (r"$2.83 \ldots \times 10^{-19} / 2 = 1.42 \times 10^{-19}$", "ok"),
    (r"$\sqrt{2} \approx 1.4$", "ok"),
    (r"$\pi \cong 3.14$", "ok"),
    (r"$\pi \cong 3.5$", "wrong"),
    (r"$2^{10} = 1024 \approx 10^3$", "ok"),
    (r"$\frac{0.48}{0.70} = 0.686$", "ok"),
])
def test_rounding(solution: str, status: str) -> None:
    last = check_steps(solution).details["steps"][-1]
    assert last["status"] == status, last


# What looks like a false equality in a correct solution is unchecked (or ok), never wrong.
@pytest.mark.parametrize("solution", [
    r"where we have used $1 \mathrm{~J}=1 \mathrm{~N} \mathrm{~m}$",
    r"(using $1 \mathrm{~Pa}=1 \mathrm{~J} \mathrm{~m}^{-1}$)",  # a typo in a conversion note: dimensions
    r"$1 \mathrm{~gal} = 4.546 \mathrm{~L}$",  # US or imperial?
    r"on writing $x=V_{\mathrm{m}} /\left(\mathrm{dm}^3 \mathrm{~mol}^{-1}\right)$, $x = 0.366$",
    r"$\sqrt{2 g h}=\sqrt{2 \times 9.8 \mathrm{~m} \mathrm{~s}^{-2} \times 5.0 \mathrm{~m}}$",  # g, h are variables
    r"$2 m g = 19.6$",
    r"$(2.0 \mathrm{~kg})(3.0 \mathrm{~ms}^{-1}) = 6.0 \mathrm{~kg} \mathrm{~m} \mathrm{~s}^{-1}$",  # ms or m s?
    r"$\frac{1^2}{(0.50 \mathrm{~nm})^2} = 0.040 \mathrm{~nm}^{-2}$",  # off by 10^2: a prefix or decimal slip
    r"$\frac{5}{20} = 20\%$",  # a percentage on one side only
    "$\\sin 30 = 0.5$ and $\\cos 60^\\circ = 0.5$",  # degrees without the symbol
    "$17.59 R = 146 \\mathrm{~J} \\mathrm{~mol}^{-1} \\mathrm{~K}^{-1}$",
    "$\\mathrm{e}^{-1} = 0.368$, $\\ln 2 = 0.693$, $\\exp(1) = 2.718$",
    "v = 120/4 = 30 m/s, which is fast",
    r"$3 \times 4 = 12 \text{ apples}$",
    "\\begin{align*} x &= 2 + 3 \\\\ &\\quad + 4 = 9 \\end{align*}",  # "+ 4 = 9" continues the row above
    "From the ratios we get $5 = 1$, which is not possible.",
    "9=189.",  # a fragment of a longer line
    r"$$\begin{aligned} p &= 2.0 \mathrm{~Pa} \\ 1 \mathrm{~Pa} &= 1 \mathrm{~N} \mathrm{~m}^{-2} \\ &= 2.0 \mathrm{~N} "
    r"\mathrm{~m}^{-2} \end{aligned}$$",  # the row below a conversion note continues p, not the note
    r"$1121 \div 3 = 373 \quad \text{remainder } 2$",
    r"$T = (\ln 50) / 0.03 \cong 130.4 (\mathrm{~min})$",
    r"$\frac{1}{2} m v^2 = \frac{1}{2}(2.0 \mathrm{~kg})(3.0 \mathrm{~m} / \mathrm{s})^2 = 9.0 \mathrm{~J}$",
    r"$12,\!000 + 3 = 12,\!003$",
    "\\begin{align*} x &= 5 \\quad y = 4 \\\\ &= 5 \\end{align*}",  # "&= 5" continues x, not y = 4
])
def test_never_wrong(solution: str) -> None:
    steps = check_steps(solution).details["steps"]
    assert not [s for s in steps if s["status"] == "wrong"], steps


def test_units_need_a_number_before_them() -> None:
    # "m" after a number is a metre; at the start of a side it is a variable, so "m a" is no quantity.
    assert arith.evaluate("2 m", plain=True)[0].magnitude == 2
    with pytest.raises(arith.NotArithmetic):
        arith.evaluate("m a = 3")
    # In LaTeX an italic one-letter unit may be a variable: noted, so a dimension clash is not judged.
    assert arith.evaluate("2 m").info.ambiguous_units == ["m"]
    assert arith.evaluate(r"2 \mathrm{~m}").info.ambiguous_units == []


@pytest.mark.parametrize("solution", [
    "$2^{10^{10}} = 5$",
    "$10^{99999} = 1$ and $1e999999 = 1$ and $9^{9^{9^{9}}} = 1$",
    "$99999999! = 1$ and $\\binom{10^9}{5} = 1$",
    "$" + "(" * 700 + "1" + ")" * 700 + " = 1$",  # nesting within the side length limit reaches the parser
    "$" + "{" * 700 + "1" + "}" * 700 + " = 1$",
    "$" + "-" * 1400 + "1 = 1$",
    "$\\frac{" * 100 + "1" + "}{2}" * 100 + " = 1$",
    "$" + "\\sqrt{" * 200 + "2" + "}" * 200 + " = 1$",
    "$" + "(" * 5000 + "1" + ")" * 5000 + " = 1$",
    "\n".join(f"${i} + 1 = {i + 1}$" for i in range(10_000)),
    "x = " + " = ".join(["1"] * 10_000),
    "$" + "1 + " * 20_000 + "1 = 5$",
    "a" * 150_000 + " = 3 " + "b" * 150_000,
    "$\\sin(10^{300}) = 0$ and $e^{10^5} = 1$ and $\\ln(0) = 1$ and $(-8)^{1/3} = -2$",
])
def test_hostile_input_gets_a_verdict_quickly(solution: str) -> None:
    import time

    t0 = time.perf_counter()
    v = check_steps(solution)
    assert v.reason in ("equal", "unequal", "unchecked", "timeout", "too_large", "error")
    assert time.perf_counter() - t0 < 15
    assert len(v.details["steps"]) <= 200


def test_plain_text_functions_and_roots() -> None:
    by_text = {s["text"]: s["status"] for s in check_steps(
        "F = 10 N * cos(30°) = 8.66 N\nx = sqrt(16) = 4\nz = sqrt(2) = 1.6\nA = π(5)² = 78.5 cm²").details["steps"]}
    assert by_text["10 N * cos(30°) = 8.66 N"] == "ok"
    assert by_text["sqrt(16) = 4"] == "ok"
    assert by_text["sqrt(2) = 1.6"] == "wrong"
    assert by_text["π(5)² = 78.5 cm²"] == "ok"
