"""Math-Verify's own regression cases (``tests/regress/math_verify_cases.jsonl``, see its README) through
``verify_answer``, and the errors found on real text: sizes of zero powers, function variables, postfix
operators (factorials, primes)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from scireflect.tools import verify_answer
from scireflect.tools.extract import extract_answer
from scireflect.tools.verifiers import mathcmp, numparse

TABLE = Path(__file__).resolve().parents[1] / "regress" / "math_verify_cases.jsonl"
KEYS = {"id", "pred", "gold", "equal", "source", "note", "category"}
# Measured 0.992 (0 false accepts, 2 false rejects) at commit 2a5a618; 0.954 with the extraction of 516b011.
ACCURACY_FLOOR = 0.97


def _cases() -> list[dict[str, Any]]:
    return [json.loads(line) for line in TABLE.read_text().splitlines() if line.strip()]


def _show(case: dict[str, Any], v: Any) -> str:
    return (f"  {case['id']} ({case['source']}): expected {'equal' if case['equal'] else 'unequal'}, got "
            f"{v.reason}\n    pred ...{case['pred'][-120:]!r}\n    gold {case['gold'][-120:]!r}\n"
            f"    extracted {v.details.get('pred_answer')!r}")


def test_table_schema() -> None:
    cases = _cases()
    assert len(cases) >= 150
    assert len({c["id"] for c in cases}) == len(cases)
    for c in cases:
        assert set(c) == KEYS, c["id"]
        assert isinstance(c["equal"], bool) and c["pred"] and c["gold"], c["id"]
        assert c["source"].startswith("Math-Verify tests/"), c["id"]


def test_math_verify_cases_no_false_accepts_and_accuracy_floor() -> None:
    cases = _cases()
    with ThreadPoolExecutor(4) as ex:
        verdicts = list(ex.map(lambda c: verify_answer(c["pred"], c["gold"]), cases))
    false_accepts = [_show(c, v) for c, v in zip(cases, verdicts) if v.ok and not c["equal"]]
    false_rejects = [_show(c, v) for c, v in zip(cases, verdicts) if not v.ok and c["equal"]]
    accuracy = 1 - (len(false_accepts) + len(false_rejects)) / len(cases)
    print(f"\n{len(cases)} cases: accuracy {accuracy:.3f}, {len(false_accepts)} false accepts, "
          f"{len(false_rejects)} false rejects")
    print("\n".join(false_rejects))
    assert not false_accepts, "false accepts:\n" + "\n".join(false_accepts)
    assert accuracy >= ACCURACY_FLOOR, "false rejects:\n" + "\n".join(false_rejects)


# -- a zero base is not a huge power -------------------------------------------------------------
def test_zero_power_is_not_too_large() -> None:
    v = verify_answer("$0^2$", "0")
    assert (v.ok, v.reason) == (True, "equal"), (v.reason, v.message)
    assert mathcmp.size_problem("0^{10^{400}}") is None and mathcmp.size_problem("1^{10^{400}}") is None
    assert mathcmp.size_problem("9^{9^{9^9}}") and mathcmp.size_problem("0.5^{10^{400}}")


# -- the variable of a function definition is a dummy; of a bare f(x) it is not ------------------
def test_bare_functions_of_different_variables_differ() -> None:
    assert not verify_answer("$f(x)$", "$f(y)$").ok
    assert not mathcmp.math_equal("$f(x)$", "$f(y)$", mathcmp.Tolerance())[0]


@pytest.mark.parametrize("pred,gold,equal", [
    ("$W(x) = 1$", "$W(n) = 1$", True),
    ("$f(t) = t^2$", "$f(x) = x^2$", True),
    ("$f(a, b) = a + 2b$", "$f(x, y) = x + 2y$", True),
    ("$f(y, x) = y + 2x$", "$f(x, y) = x + 2y$", True),   # renamed consistently: the same function
    ("$f(t) = x^2$", "$f(x) = x^2$", False),              # the constant x^2, not the square
    ("$f(x, y) = y + 2x$", "$f(x, y) = x + 2y$", False),
    ("$f(x)$", "$f(y)$", False),
])
def test_definitions_rename_their_variable_consistently(pred: str, gold: str, equal: bool) -> None:
    ok, details = mathcmp.math_equal(pred, gold, mathcmp.Tolerance())
    assert ok is equal, details


def test_definition_lists_with_the_dummy_renamed() -> None:
    ok, details = mathcmp.math_equal("W(x)=1orW(x)=-1", r"\boxed{W(n) = 1 \text{ and } W(n) = -1", mathcmp.Tolerance())
    assert ok and details.get("renamed_definition_variables"), details  # (a reference cut off before "}")
    assert verify_answer("$W(x) = 1$", "$W(n) = 1$").ok
    assert not verify_answer("$W(x) = 1$", "$W(n) = -1$").ok


# The extraction keeps only the right side of "f(t) = x^2", and x^2 is the right side of the reference.
_EXTRACTION_CUTS_DEFINITIONS = extract_answer("$f(t) = x^2$") != "f(t) = x^2"


@pytest.mark.xfail(_EXTRACTION_CUTS_DEFINITIONS, reason="extract_answer drops the defined function", strict=True)
def test_a_constant_function_is_not_the_square_end_to_end() -> None:
    assert not verify_answer("$f(t) = x^2$", "$f(x) = x^2$").ok


def test_an_equation_of_a_sum_is_not_its_right_side() -> None:
    # math-verify alone accepts 1 for "x + z = 1" (a plane); "AB = 4" still names a quantity.
    assert not verify_answer("$$1$$", "$$x+z=1$$").ok
    assert not verify_answer("$2x+z=1$", "$x+z=1$").ok
    assert mathcmp.math_equal("$x+z=1$", "$z+x=1$", mathcmp.Tolerance())[0]
    assert verify_answer("$4$", "$AB=4$").ok


# -- postfix operators are kept ------------------------------------------------------------------
@pytest.mark.parametrize("text,value", [("5!", 120), ("10!", 3628800), ("5!!", 15), ("6!!", 48), ("0!", 1),
                                        ("-3!", -6)])
def test_parse_number_reads_factorials(text: str, value: int) -> None:
    num = numparse.parse_number(text)
    assert num is not None and num.value == value and not num.decimal


@pytest.mark.parametrize("text", ["5!!!", "20000!", "5'", "30°"])
def test_parse_number_never_cuts_an_operator(text: str) -> None:
    assert numparse.parse_number(text) is None  # not 5, 20000 or 30: another path reads (or refuses) it


@pytest.mark.parametrize("pred,gold,equal", [
    ("$5!$", "$120$", True), ("$5!$", "$5$", False), ("$10!$", "3628800", True), ("$5!!$", "15", True),
    ("$\\frac{7!!}{3}$", "35", True), ("$(5!)!$", "$5!!$", False), ("$(3!)!$", "720", True),
    ("$(2n-1)!!$", "$(2n - 1)!!$", True), ("$(2n-1)!!$", "$((2n-1)!)!$", False),
    ("$\\frac{1}{2004!}$", "$\\frac{1}{2006!}$", False),
    ("$f'(x)$", "$f(x)$", False), ("$y''$", "$y'$", False), ("$f'(x) = 2x$", "$f^{\\prime}(x) = 2x$", True),
])
def test_math_keeps_postfix_operators(pred: str, gold: str, equal: bool) -> None:
    ok, details = mathcmp.math_equal(pred, gold, mathcmp.Tolerance())
    assert ok is equal, details


@pytest.mark.parametrize("pred,gold,equal", [
    ("$f'(x)$", "$f(x)$", False), ("$x'$", "$x$", False), (r"50\%", "0.5", True), (r"$30^\circ$", "30", True),
])
def test_primes_percent_and_degrees_end_to_end(pred: str, gold: str, equal: bool) -> None:
    v = verify_answer(pred, gold)
    assert v.ok is equal, (v.reason, v.details)


@pytest.mark.parametrize("pred", ["$(20!)!$", "$(2^{20})!$", "$(20000!)!$", "1000000!"])
def test_huge_factorials_are_refused_fast(pred: str) -> None:
    t0 = time.monotonic()
    v = verify_answer(pred, "1", timeout_s=5)
    assert (v.ok, v.reason) == (False, "too_large"), (v.reason, v.message)
    assert time.monotonic() - t0 < 2


# The answer extraction (tools/extract.py) strips a trailing "!" as punctuation, so "5!" reaches the
# comparison as "5"; these hold end to end once it keeps a "!" that follows a number, letter or bracket.
_EXTRACTION_DROPS_BANG = extract_answer(r"so \boxed{5!}") != "5!"


@pytest.mark.xfail(_EXTRACTION_DROPS_BANG, reason="extract_answer cuts the factorial sign", strict=True)
@pytest.mark.parametrize("pred,gold,equal", [
    ("5!", "120", True), ("5!", "5", False), ("10!", "3628800", True), ("5!!", "15", True),
    (r"so \boxed{5!}", "5", False), (r"\boxed{10!}", "3628800", True),
])
def test_factorials_end_to_end(pred: str, gold: str, equal: bool) -> None:
    v = verify_answer(pred, gold)
    assert v.ok is equal, (v.reason, v.details)
